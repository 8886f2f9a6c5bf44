"""Forms of the contact and account pages: the inline edit panels and "log a call, meeting or note".

The forms only read what people typed; the services (``contact_update``, ``account_update``,
``activity_log``) check permissions, validate what matters for the data and audit.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from hitl_crm.contacts.models import Account, Activity, Contact
from hitl_crm.contacts.services import LOGGABLE_KINDS
from hitl_crm.tags import TagsFormField


def owner_choices() -> QuerySet[User]:
    """The people a record can be given to: active users, by name."""
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class _EditForm(forms.Form):
    """Bound to the record it edits: initial values come from it, ``changes()`` is what differs."""

    fields_edited: tuple[str, ...] = ()

    def __init__(self, *args: Any, instance: Contact | Account, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(instance, name) for name in self.fields_edited})
        super().__init__(*args, **kwargs)
        self.instance = instance
        cast(OwnerChoiceField, self.fields["owner"]).queryset = owner_choices()

    def changes(self) -> dict[str, Any]:
        """The cleaned values that differ from the record (what the service should change)."""
        return {
            name: self.cleaned_data[name]
            for name in self.fields_edited
            if self.cleaned_data[name] != getattr(self.instance, name)
        }


class ContactEditForm(_EditForm):
    fields_edited = ("owner", "tags", "title", "phone", "email_consent")

    owner = OwnerChoiceField(queryset=get_user_model().objects.none(), required=False, empty_label="Nobody")
    tags = TagsFormField()
    title = forms.CharField(max_length=120, required=False)
    phone = forms.CharField(
        max_length=40, required=False, help_text="With the country code if not local, e.g. +44 20 7946 0958"
    )
    email_consent = forms.BooleanField(required=False, label="Agreed to receive marketing email")

    def __init__(self, *args: Any, instance: Contact, **kwargs: Any) -> None:
        super().__init__(*args, instance=instance, **kwargs)
        if instance.unsubscribed_at is not None:
            self.fields[
                "email_consent"
            ].help_text = (
                f"Unsubscribed on {date_format(instance.unsubscribed_at, 'M j, Y')}; tick only if they opted in again."
            )


class AccountEditForm(_EditForm):
    fields_edited = ("owner", "tags", "tier", "industry")

    owner = OwnerChoiceField(queryset=get_user_model().objects.none(), required=False, empty_label="Nobody")
    tags = TagsFormField()
    tier = forms.ChoiceField(choices=Account.Tier.choices)
    industry = forms.CharField(max_length=100, required=False)


class ActivityLogForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in LOGGABLE_KINDS], initial=Activity.Kind.CALL, label="What"
    )
    subject = forms.CharField(max_length=200, required=False, help_text="Optional: the line the timeline shows")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        label="Notes",
        error_messages={"required": "Write what was said or agreed; an empty entry cannot be logged."},
    )
    occurred_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        required=False,
        help_text="Leave as is for now",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))

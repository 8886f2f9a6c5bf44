"""Forms for the service desk UI. Rules live in the services; these only shape the input."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.models import User

from approvals.models import Decision
from hitl_crm.tags import TagsFormField
from service.models import Case, KnowledgeArticle

SENTIMENT_CHOICES = [
    ("", "Keep"),
    ("-0.8", "Upset (a manager reviews replies)"),
    ("-0.3", "A bit negative"),
    ("0", "Neutral"),
    ("0.6", "Positive"),
]


class InboxFilterForm(forms.Form):
    STATUS_CHOICES = [("", "Any status"), ("active", "Open or pending"), *Case.Status.choices]
    NEEDS_HUMAN_CHOICES = [("", "Anyone"), ("yes", "Needs a person"), ("no", "AI draft ready")]
    OWNER_CHOICES = [("", "Everyone"), ("mine", "Mine"), ("none", "Unassigned")]

    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    risk = forms.ChoiceField(required=False, choices=[("", "Any risk"), *Case.Risk.choices])
    intent = forms.ChoiceField(required=False)
    needs_human = forms.ChoiceField(required=False, choices=NEEDS_HUMAN_CHOICES)
    owner = forms.ChoiceField(required=False, choices=OWNER_CHOICES)

    def __init__(self, *args: Any, intents: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["intent"]).choices = [
            ("", "Any intent"),
            *[(i, i.replace("_", " ")) for i in intents],
        ]

    def selects(self) -> list[dict[str, Any]]:
        """The select boxes as plain data: the inbox renders them itself (Django's widget templates
        cost more than the whole table on a busy server)."""
        data = self.data if self.is_bound else {}
        labels = {"owner": "Owner", "status": "Status", "risk": "Risk", "intent": "Intent", "needs_human": "Who"}
        return [
            {
                "name": name,
                "label": label,
                "choices": cast(forms.ChoiceField, self.fields[name]).choices,
                "value": str(data.get(name, "")),
            }
            for name, label in labels.items()
        ]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        needs = {"yes": True, "no": False}.get(data["needs_human"])
        return {
            "status": data["status"],
            "risk": data["risk"],
            "intent": data["intent"],
            "needs_human": needs,
            "q": data["q"].strip(),
            "owner": data["owner"],
        }


class TriageCorrectionForm(forms.Form):
    intent = forms.ChoiceField(required=False)
    sentiment = forms.ChoiceField(required=False, choices=SENTIMENT_CHOICES)

    def __init__(self, *args: Any, intents: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["intent"]).choices = [
            ("", "Keep"),
            *[(i, i.replace("_", " ")) for i in intents],
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("intent") and data.get("sentiment") in (None, ""):
            raise forms.ValidationError("Pick the right intent or sentiment.")
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "intent": data["intent"] or None,
            "sentiment": float(data["sentiment"]) if data["sentiment"] not in (None, "") else None,
        }


class DraftDecisionForm(forms.Form):
    """Approve (with any edits) or reject the reply waiting for approval."""

    verdict = forms.ChoiceField(
        choices=[(Decision.Verdict.APPROVE, "Approve and send"), (Decision.Verdict.REJECT, "Reject")]
    )
    subject = forms.CharField(max_length=300, strip=False)
    body = forms.CharField(max_length=20_000, strip=False, widget=forms.Textarea(attrs={"rows": 12}))
    reason = forms.ChoiceField(required=False, choices=[("", "Why? (required to reject)"), *Decision.Reason.choices])
    payload_hash = forms.CharField(widget=forms.HiddenInput)  # the version shown: a decision applies only to it

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("verdict") == Decision.Verdict.REJECT and not data.get("reason"):
            self.add_error("reason", "Pick a reason: it tells the AI what went wrong.")
        return data

    def edits(self, final: dict[str, Any]) -> dict[str, Any]:
        changed = {}
        for name in ("subject", "body"):
            value = self.cleaned_data[name].replace("\r\n", "\n")
            if value != final.get(name):
                changed[name] = value
        return changed


class ReplyForm(forms.Form):
    subject = forms.CharField(max_length=300, required=False)
    body = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 8}))


class CaseStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Case.Status.choices)


def person(user: User) -> str:
    return user.get_full_name() or user.get_username()


class CaseEditForm(forms.Form):
    """The case's status, priority, owner and tags, edited together on the case page.

    ``owners`` are the people offered as owners; any active user can be posted, so that the service
    can say why someone who may not work cases cannot own one."""

    status = forms.ChoiceField(choices=Case.Status.choices)
    priority = forms.ChoiceField(choices=Case.Priority.choices)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        empty_label="Unassigned",
        error_messages={"invalid_choice": "Pick a person from the list."},
    )
    tags = TagsFormField(label="Tags")

    def __init__(self, *args: Any, owners: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        offered = list(owners)
        current = self.initial.get("owner")
        if isinstance(current, User) and current not in offered:
            offered.append(current)  # someone who has since lost the role still shows as the owner
        owner.widget.choices = [("", "Unassigned"), *[(u.pk, person(u)) for u in offered]]

    @classmethod
    def for_case(cls, case: Case, *, owners: list[User]) -> CaseEditForm:
        return cls(
            initial={"status": case.status, "priority": case.priority, "owner": case.owner, "tags": case.tags},
            owners=owners,
        )


class ArticleForm(forms.ModelForm):
    class Meta:
        model = KnowledgeArticle
        fields = ["title", "body", "tags", "published", "last_reviewed_at"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 16}),
            "last_reviewed_at": forms.DateInput(attrs={"type": "date"}),
        }

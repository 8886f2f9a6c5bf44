"""Writes for accounts, contacts and the activity timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hitl_crm.contacts.conf import app_settings
from hitl_crm.contacts.models import Account, Activity, Contact

CONTACT_FIELDS = frozenset(
    {"account", "first_name", "last_name", "email", "phone", "title", "email_consent", "owner", "attributes"}
)
ACCOUNT_FIELDS = frozenset({"name", "domain", "industry", "employees", "country", "tier", "owner"})


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """Return the number in E.164 form; raise ValidationError naming the problem."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, region or app_settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"phone": f"'{raw}' is not a phone number."}) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"phone": f"'{raw}' is not a valid phone number."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_unique_email(email: str, *, exclude_pk: int | None = None) -> None:
    if not email:
        return
    clash = Contact.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"email": f"A contact with the email {email} already exists."})


def _apply(instance: Any, data: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    changed = []
    for name, value in data.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _clean_contact_data(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "email" in data:
        data["email"] = (data["email"] or "").strip().lower()
    if "phone" in data:
        data["phone"] = phone_normalize(data["phone"])
    return data


@transaction.atomic
def account_create(*, name: str, **fields: Any) -> Account:
    """Create an account; ``domain`` must be unique (case-insensitive) when given."""
    account = Account(name=name.strip())
    _apply(account, dict(fields.items()), ACCOUNT_FIELDS)
    account.domain = account.domain.strip().lower()
    account.country = account.country.strip().upper()
    if account.domain and Account.objects.filter(domain__iexact=account.domain).exists():
        raise ValidationError({"domain": f"An account with the domain {account.domain} already exists."})
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, data: dict[str, Any]) -> Account:
    if "domain" in data:
        data = {**data, "domain": (data["domain"] or "").strip().lower()}
        if data["domain"] and Account.objects.filter(domain__iexact=data["domain"]).exclude(pk=account.pk).exists():
            raise ValidationError({"domain": f"An account with the domain {data['domain']} already exists."})
    if _apply(account, data, ACCOUNT_FIELDS):
        account.full_clean()
        account.save()
    return account


@transaction.atomic
def contact_create(*, actor: User | None = None, source: str = "web", **fields: Any) -> Contact:
    """Create a contact (email unique, phone normalised) and note it on the timeline."""
    data = _clean_contact_data(fields)
    contact = Contact()
    _apply(contact, data, CONTACT_FIELDS)
    if contact.email_consent:
        contact.consent_at = timezone.now()
    _check_unique_email(contact.email)
    contact.full_clean()
    contact.save()
    activity_record(contact=contact, kind=Activity.Kind.SYSTEM, summary="Contact created", source=source, actor=actor)
    return contact


@transaction.atomic
def contact_update(
    *, contact: Contact, data: dict[str, Any], actor: User | None = None, source: str = "web"
) -> Contact:
    """Change a contact; consent changes are stamped and recorded on the timeline."""
    data = _clean_contact_data(data)
    if "email" in data:
        _check_unique_email(data["email"], exclude_pk=contact.pk)
    consent_before = contact.email_consent
    changed = _apply(contact, data, CONTACT_FIELDS)
    if not changed:
        return contact
    if contact.email_consent and not consent_before:
        contact.consent_at = timezone.now()
        contact.unsubscribed_at = None
    contact.full_clean()
    contact.save()
    activity_record(
        contact=contact,
        kind=Activity.Kind.SYSTEM,
        summary=f"Updated {', '.join(changed)}",
        data={"changed": changed},
        source=source,
        actor=actor,
    )
    return contact


@transaction.atomic
def contact_unsubscribe(*, contact: Contact, source: str = "web", at: datetime | None = None) -> Contact:
    """Withdraw marketing consent. Idempotent: a second call keeps the first time."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.unsubscribed_at is not None:
        return contact
    contact.unsubscribed_at = at or timezone.now()
    contact.email_consent = False
    contact.save(update_fields=["unsubscribed_at", "email_consent", "updated_at"])
    activity_record(contact=contact, kind=Activity.Kind.SYSTEM, summary="Unsubscribed from email", source=source)
    return contact


@transaction.atomic
def activity_record(
    *,
    contact: Contact,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    source: str = "web",
    occurred_at: datetime | None = None,
    actor: User | None = None,
) -> Activity:
    """Append an entry to the contact's timeline and keep ``last_activity_at`` current."""
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": f"'{kind}' is not one of: {', '.join(Activity.Kind.values)}."})
    activity = Activity.objects.create(
        contact=contact,
        kind=kind,
        summary=summary[:300],
        data=data or {},
        source=source,
        occurred_at=occurred_at or timezone.now(),
        actor=actor,
    )
    Contact.objects.filter(pk=contact.pk).filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=activity.occurred_at)
    ).update(last_activity_at=activity.occurred_at)
    return activity

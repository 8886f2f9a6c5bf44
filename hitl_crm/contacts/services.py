"""Writes for accounts, contacts and the activity timeline.

Every write takes the ``actor`` it acts for and checks it with ``require_permission``. The
system entry points, which also accept ``actor=None`` (the inbound-mail path, imports, the
unsubscribe link, the timeline entries other apps write), are ``contact_create``,
``contact_unsubscribe`` and ``activity_record``.

Edits of a contact or an account send ``hitl_crm.contacts.signals.record_changed`` inside their
transaction (the audit trail listens to it; the kernel does not import it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from hitl_crm.contacts.conf import app_settings
from hitl_crm.contacts.models import Account, Activity, Contact, contact_search_expression
from hitl_crm.contacts.signals import record_changed
from hitl_crm.permissions import require_permission
from hitl_crm.tags import normalize_tags

CONTACT_FIELDS = frozenset(
    {"account", "first_name", "last_name", "email", "phone", "title", "email_consent", "owner", "attributes", "tags"}
)
ACCOUNT_FIELDS = frozenset({"name", "domain", "industry", "employees", "country", "tier", "owner", "tags"})
# What people log by hand on a contact's timeline; the other kinds are written by the system.
LOGGABLE_KINDS = (Activity.Kind.CALL, Activity.Kind.MEETING, Activity.Kind.NOTE)
# A clock a few minutes ahead on the person's device is not "the future".
FUTURE_SLACK = timedelta(minutes=5)


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


def _clean_tags(data: dict[str, Any]) -> dict[str, Any]:
    if "tags" in data:
        try:
            data["tags"] = normalize_tags(data["tags"])
        except ValidationError as exc:
            raise ValidationError({"tags": exc.messages}) from exc
    return data


def _clean_contact_data(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "email" in data:
        data["email"] = (data["email"] or "").strip().lower()
    if "phone" in data:
        data["phone"] = phone_normalize(data["phone"])
    if "title" in data:
        data["title"] = (data["title"] or "").strip()
    return _clean_tags(data)


def _clean_account_data(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for name in ("name", "industry"):
        if name in data:
            data[name] = (data[name] or "").strip()
    if "domain" in data:
        data["domain"] = (data["domain"] or "").strip().lower()
    if "country" in data:
        data["country"] = (data["country"] or "").strip().upper()
    return _clean_tags(data)


def _check_unique_domain(domain: str, *, exclude_pk: int | None = None) -> None:
    if not domain:
        return
    clash = Account.objects.filter(domain__iexact=domain)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"domain": f"An account with the domain {domain} already exists."})


def _snapshot_value(value: Any) -> Any:
    """A field value as the JSON the audit trail keeps (related rows by id and name)."""
    if isinstance(value, models.Model):
        return {"id": value.pk, "name": str(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_snapshot_value(v) for v in value]
    return value


def _snapshot(instance: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _snapshot_value(getattr(instance, name)) for name in fields}


def _copy_fields(source: models.Model, target: models.Model) -> None:
    """Give the caller's instance the saved values, so whoever holds it sees the change."""
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


@transaction.atomic
def account_create(*, name: str, actor: User, **fields: Any) -> Account:
    """Create an account; ``domain`` must be unique (case-insensitive) when given."""
    require_permission(actor, "contacts.add_account", message="You may not add accounts.")
    data = _clean_account_data({"name": name, **fields})
    account = Account()
    _apply(account, data, ACCOUNT_FIELDS)
    _check_unique_domain(account.domain)
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, data: dict[str, Any], actor: User) -> Account:
    """Change an account's fields (owner, tier, tags, …) and audit what changed.

    The row is locked while it changes; ``account`` gets the saved values too.
    """
    locked = Account.objects.select_for_update().get(pk=account.pk)
    require_permission(actor, "contacts.change_account", locked, message="You may not change accounts.")
    data = _clean_account_data(data)
    if "domain" in data:
        _check_unique_domain(data["domain"], exclude_pk=locked.pk)
    unknown = set(data) - ACCOUNT_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    before = _snapshot(locked, [name for name in data if getattr(locked, name) != data[name]])
    changed = _apply(locked, data, ACCOUNT_FIELDS)
    if changed:
        locked.full_clean()
        locked.save()
        if "name" in changed:  # its people are found by the account's name: one UPDATE, not a save each
            Contact.objects.filter(account=locked).update(search_text=contact_search_expression())
        record_changed.send(
            sender=Account,
            actor=actor,
            target=locked,
            verb="account.updated",
            before=before,
            after=_snapshot(locked, changed),
        )
    _copy_fields(locked, account)
    return locked


@transaction.atomic
def contact_create(*, actor: User | None = None, source: str = "web", **fields: Any) -> Contact:
    """Create a contact (email unique, phone normalised) and note it on the timeline.

    A system entry point: ``actor=None`` is the inbound-mail path or an import; a person
    creating a contact is checked for ``contacts.add_contact``.
    """
    if actor is not None:
        require_permission(actor, "contacts.add_contact", message="You may not add contacts.")
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
def contact_update(*, contact: Contact, data: dict[str, Any], actor: User, source: str = "web") -> Contact:
    """Change a contact; consent changes are stamped; the change is noted on the timeline and audited.

    The row is locked while it changes; ``contact`` gets the saved values too.
    """
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    require_permission(actor, "contacts.change_contact", locked, message="You may not change contacts.")
    data = _clean_contact_data(data)
    unknown = set(data) - CONTACT_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    if "email" in data:
        _check_unique_email(data["email"], exclude_pk=locked.pk)
    consent_before = locked.email_consent
    before = _snapshot(locked, [name for name in data if getattr(locked, name) != data[name]])
    changed = _apply(locked, data, CONTACT_FIELDS)
    if not changed:
        _copy_fields(locked, contact)
        return locked
    if locked.email_consent and not consent_before:
        locked.consent_at = timezone.now()
        locked.unsubscribed_at = None
    locked.full_clean()
    locked.save()
    activity_record(
        contact=locked,
        kind=Activity.Kind.SYSTEM,
        summary=f"Updated {', '.join(changed)}",
        data={"changed": changed},
        source=source,
        actor=actor,
    )
    record_changed.send(
        sender=Contact,
        actor=actor,
        target=locked,
        verb="contact.updated",
        before=before,
        after=_snapshot(locked, changed),
    )
    _copy_fields(locked, contact)
    return locked


@transaction.atomic
def contact_unsubscribe(*, contact: Contact, source: str = "web", at: datetime | None = None) -> Contact:
    """Withdraw marketing consent. Idempotent: a second call keeps the first time.

    A system entry point: the person themself asks, through a signed link.
    """
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.unsubscribed_at is not None:
        return contact
    contact.unsubscribed_at = at or timezone.now()
    contact.email_consent = False
    contact.save(update_fields=["unsubscribed_at", "email_consent", "updated_at"])
    activity_record(contact=contact, kind=Activity.Kind.SYSTEM, summary="Unsubscribed from email", source=source)
    return contact


@transaction.atomic
def activity_log(
    *,
    contact: Contact,
    actor: User,
    kind: str,
    body: str,
    subject: str = "",
    occurred_at: datetime | None = None,
    source: str = "web",
) -> Activity:
    """A person logs a call, a meeting or a note on the contact's timeline.

    ``body`` is required; ``subject`` (optional) becomes the line the timeline shows, else the
    start of the body. ``occurred_at`` (default now) may not lie in the future.
    """
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    require_permission(actor, "contacts.add_activity", locked, message="You may not log activities.")
    if kind not in LOGGABLE_KINDS:
        allowed = ", ".join(str(k.label).lower() for k in LOGGABLE_KINDS)
        raise ValidationError({"kind": f"Log one of: {allowed}."})
    body = (body or "").strip()
    subject = " ".join((subject or "").split())
    if not body:
        raise ValidationError({"body": "Write what was said or agreed; an empty entry cannot be logged."})
    when = occurred_at or timezone.now()
    if when > timezone.now() + FUTURE_SLACK:
        raise ValidationError({"occurred_at": "“When” is in the future; log a call or meeting once it has happened."})
    first_line = " ".join(body.splitlines()[0].split())
    summary = subject or (first_line if len(first_line) <= 120 else first_line[:119] + "…")
    return activity_record(
        contact=locked,
        kind=kind,
        summary=summary,
        data={"subject": subject, "body": body},
        source=source,
        occurred_at=when,
        actor=actor,
    )


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
    """Append an entry to the contact's timeline and keep ``last_activity_at`` current.

    A system entry point for the entries apps write (case opened, reply sent, …); what a person
    logs by hand goes through :func:`activity_log`.
    """
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

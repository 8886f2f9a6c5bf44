"""Writes for leads: leads, engagement events, score overrides and scoring rules.

Scoring itself lives in ``leads.scoring`` (bulk recompute), training in ``leads.training``,
imports in ``leads.import_jobs`` and follow-ups in ``leads.followups``; all are re-exported here.
Every change that can move a score marks the lead dirty; one debounced task rescores the
burst.

Every write takes the ``actor`` it acts for and checks its permission through
:func:`hitl_crm.permissions.require_permission` (a refusal is ``PermissionDenied``: 403 in the
API and on the pages); ``actor=None`` is refused. Changes of a lead's status, owner, value
(amount and currency), tags or score override and of the scoring rules are audited
(``approvals.audit``) in the same transaction, with the values before and after.

The system entry points, which accept ``actor=None`` because nobody in particular acts:

- ``leads_rescore`` / ``leads_mark_dirty``: the (debounced, nightly) recompute;
- ``lead_import_run``: the import task, after a person created and started the import;
- ``scoring_model_train``: scheduled retraining, ``manage.py leads_train`` / ``leads_eval`` and the
  demo seed (with an actor it needs ``leads.train_scoringmodel``);
- ``lead_followup_draft``: the AI drafting task and the demo seed (with an actor it needs
  ``leads.change_lead``; asking for a draft, ``lead_followup_request_draft``, always does).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from approvals.audit import audit_record
from hitl_crm.money import UnknownCurrency, currency_code
from hitl_crm.permissions import require_permission
from hitl_crm.tags import normalize_tags
from hitl_crm.validation import flatten_errors
from leads.conf import app_settings
from leads.followups import lead_followup_draft, lead_followup_request_draft, lead_followup_submit
from leads.import_jobs import (
    lead_import_create,
    lead_import_error_report,
    lead_import_preview,
    lead_import_run,
    lead_import_start,
)
from leads.models import Lead, LeadEvent, LeadScoreHistory, ScoringRule
from leads.rules import validate_rule
from leads.scoring import leads_mark_dirty, leads_rescore, rescore_schedule, tier_of
from leads.training import NotEnoughData, scoring_model_activate, scoring_model_deactivate, scoring_model_train

#: The lead fields people and partner systems may write, in the order the API shows them.
LEAD_FIELD_NAMES = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "employees",
    "industry",
    "country",
    "source",
    "status",
    "owner",
    "estimated_value",
    "value_currency",
    "tags",
    "do_not_email",
    "external_id",
    "attributes",
    "contact",
    "account",
)
LEAD_FIELDS = frozenset(LEAD_FIELD_NAMES)
# Changing these cannot move a score.
_NOT_SCORED = frozenset({"first_name", "last_name", "phone", "owner", "contact", "tags", "value_currency"})
MAX_VALUE = Decimal("10000000000")
MAX_EVENT_DATA_KEYS = 30


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    unknown = set(data) - LEAD_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    if "email" in data:
        data["email"] = (data["email"] or "").strip().lower()
        if data["email"]:
            try:
                validate_email(data["email"])
            except ValidationError:
                raise ValidationError({"email": f"'{data['email']}' is not an email address."}) from None
    if "phone" in data:
        from hitl_crm.contacts.services import phone_normalize

        data["phone"] = phone_normalize(data["phone"] or "")
    if "attributes" in data and not isinstance(data["attributes"], dict):
        raise ValidationError({"attributes": "Expected an object of name: value."})
    if "status" in data and data["status"] not in Lead.Status.values:
        raise ValidationError({"status": f"Use one of: {', '.join(Lead.Status.values)}."})
    errors: dict[str, str] = {}
    if "tags" in data:
        try:
            data["tags"] = normalize_tags(data["tags"])
        except ValidationError as exc:
            errors["tags"] = " ".join(exc.messages)
    if data.get("estimated_value") is not None:
        try:
            value = Decimal(str(data["estimated_value"]))
        except ArithmeticError:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0 or value >= MAX_VALUE:
            errors["estimated_value"] = "Give an amount of 0 or more, below 10,000,000,000."
        elif value != value.quantize(Decimal("0.01")):
            errors["estimated_value"] = "Give the amount with at most 2 decimals."
        else:
            data["estimated_value"] = value
    if data.get("value_currency"):
        try:
            data["value_currency"] = currency_code(data["value_currency"])
        except UnknownCurrency as exc:
            errors["value_currency"] = str(exc)
    owner = data.get("owner")
    if owner is not None and not getattr(owner, "is_active", False):
        errors["owner"] = f"{owner} is not an active user."
    if errors:
        raise ValidationError(errors)
    return data


def _settle_currency(lead: Lead) -> None:
    """A value always has a currency (the default when none was given); no value, no currency."""
    if lead.estimated_value is None:
        lead.value_currency = ""
    elif not lead.value_currency:
        lead.value_currency = app_settings.DEFAULT_CURRENCY


def _check_unique(lead: Lead) -> None:
    others = Lead.objects.exclude(pk=lead.pk) if lead.pk else Lead.objects.all()
    if lead.email and others.filter(email=lead.email).exists():
        raise ValidationError({"email": f"A lead with the email {lead.email} already exists."})
    if lead.external_id and others.filter(external_id=lead.external_id).exists():
        raise ValidationError({"external_id": f"A lead with the id {lead.external_id} already exists."})


def _set_closed(lead: Lead, old_status: str | None, now: datetime) -> None:
    if lead.status in Lead.CLOSED and old_status not in Lead.CLOSED:
        lead.closed_at = now
    elif lead.status not in Lead.CLOSED:
        lead.closed_at = None


def _user_ref(user: User | None) -> dict[str, Any] | None:
    return {"id": user.pk, "username": user.get_username()} if user is not None else None


def _lead_state(lead: Lead) -> dict[str, Any]:
    """What the audit keeps of a lead: its status and owner."""
    return {"status": lead.status, "owner": _user_ref(lead.owner) if lead.owner_id else None}


def _value_ref(lead: Lead) -> dict[str, str] | None:
    if lead.estimated_value is None:
        return None
    return {"amount": f"{Decimal(lead.estimated_value):.2f}", "currency": lead.value_currency}


def _edit_state(lead: Lead) -> dict[str, Any]:
    """What the audit compares when a lead changes: status, owner, value and tags."""
    return {**_lead_state(lead), "value": _value_ref(lead), "tags": list(lead.tags or [])}


_AUDITED = (
    ("status", "lead.status_changed"),
    ("owner", "lead.owner_changed"),
    ("value", "lead.value_changed"),
    ("tags", "lead.tags_changed"),
)


def _audit_lead_changes(lead: Lead, *, actor: User, before: dict[str, Any]) -> None:
    after = _edit_state(lead)
    for name, verb in _AUDITED:
        if before[name] != after[name]:
            audit_record(
                verb=verb, actor=actor, target=lead, data={"before": {name: before[name]}, "after": {name: after[name]}}
            )


@transaction.atomic
def lead_create(*, actor: User, **fields: Any) -> Lead:
    """Create a lead (email and external id unique, phone normalised) and queue its score.

    Needs ``leads.add_lead``; the new lead's status and owner are audited.
    """
    require_permission(actor, "leads.add_lead", message="You may not add leads.")
    data = _clean(fields)
    now = timezone.now()
    lead = Lead(**data, created_at=now, score_dirty_at=now)
    _set_closed(lead, None, now)
    _settle_currency(lead)
    _check_unique(lead)
    lead.full_clean(exclude=["lead_import"])
    try:
        with transaction.atomic():
            lead.save(force_insert=True)
    except IntegrityError:
        _check_unique(lead)
        raise
    audit_record(verb="lead.created", actor=actor, target=lead, data={"before": None, "after": _lead_state(lead)})
    rescore_schedule()
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, data: dict[str, Any], actor: User) -> Lead:
    """Change a lead's fields; a change that can move its score queues a rescore.

    Needs ``leads.change_lead`` (globally or on the lead). A new status, owner, value (amount or
    currency) or set of tags is audited with the values before and after. A value given without
    a currency keeps the lead's currency, else takes ``HITL_CRM_LEADS_DEFAULT_CURRENCY``. Bad
    input is a ``ValidationError`` naming the field.
    """
    require_permission(actor, "leads.change_lead", lead, message="You may not change this lead.")
    data = _clean(data)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    old_status = lead.status
    before = _edit_state(lead)
    changed = []
    for name, value in data.items():
        if name == "attributes":
            value = {**(lead.attributes or {}), **value}
            value = {k: v for k, v in value.items() if v not in (None, "")}
        if getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.append(name)
    _settle_currency(lead)
    if not changed:
        return lead
    now = timezone.now()
    _set_closed(lead, old_status, now)
    _check_unique(lead)
    lead.full_clean(exclude=["lead_import"])
    if set(changed) - _NOT_SCORED:
        lead.score_dirty_at = now
    lead.save()
    _audit_lead_changes(lead, actor=actor, before=before)
    if lead.score_dirty_at == now:
        rescore_schedule()
    return lead


def _clean_event(kind: str, occurred_at: datetime | None, data: Any, amount: Any, now: datetime) -> dict[str, Any]:
    if kind not in LeadEvent.Kind.values:
        raise ValidationError({"kind": f"Use one of: {', '.join(LeadEvent.Kind.values)}."})
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationError({"occurred_at": "Events cannot happen in the future."})
    data = data or {}
    if not isinstance(data, dict) or len(data) > MAX_EVENT_DATA_KEYS:
        raise ValidationError({"data": f"Expected an object with at most {MAX_EVENT_DATA_KEYS} keys."})
    if amount not in (None, ""):
        try:
            amount = Decimal(str(amount)).quantize(Decimal("0.01"))
        except ArithmeticError:
            raise ValidationError({"amount": "Not an amount."}) from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("10000000000"):
            raise ValidationError({"amount": "Use an amount between 0 and 10,000,000,000."})
    else:
        amount = None
    return {"kind": kind, "occurred_at": occurred_at, "data": data, "amount": amount}


@transaction.atomic
def lead_events_record(
    *, items: list[dict[str, Any]], actor: User, source: str = "web"
) -> list[tuple[LeadEvent, bool]]:
    """Record engagement events (``{"lead", "kind", "occurred_at"?, "data"?, "amount"?, "external_id"?}``).

    Needs ``leads.add_leadevent``. Idempotent per ``(source, external_id)``: a partner retrying a
    push gets the first event back with ``created=False``. Queues one rescore for the whole batch.
    """
    require_permission(actor, "leads.add_leadevent", message="You may not record lead events.")
    now = timezone.now()
    cleaned = []
    for index, item in enumerate(items):
        try:
            fields = _clean_event(item["kind"], item.get("occurred_at"), item.get("data"), item.get("amount"), now)
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError({f"[{index}].{k}": v for k, v in flatten_errors(exc).items()}) from None
        cleaned.append((item["lead"], fields, str(item.get("external_id") or "")[:100]))
    ext_ids = {ext for _, _, ext in cleaned if ext}
    known = (
        {e.external_id: e for e in LeadEvent.objects.filter(source=source, external_id__in=ext_ids)} if ext_ids else {}
    )
    out: list[tuple[LeadEvent, bool]] = []
    new: list[LeadEvent] = []
    for lead, fields, ext in cleaned:
        if ext and ext in known:
            out.append((known[ext], False))
            continue
        event = LeadEvent(lead=lead, source=source[:40], external_id=ext, created_at=now, **fields)
        if ext:
            known[ext] = event
        new.append(event)
        out.append((event, True))
    try:
        with transaction.atomic():
            LeadEvent.objects.bulk_create(new)
    except IntegrityError:
        raise ValidationError(
            {"external_id": "This event was recorded by a concurrent request; send it again."}
        ) from None
    engaged: dict[int, datetime] = {}
    for event in new:
        if event.kind in LeadEvent.ENGAGEMENT:
            engaged[event.lead_id] = max(engaged.get(event.lead_id, event.occurred_at), event.occurred_at)
    for lead_id, at in engaged.items():
        Lead.objects.filter(pk=lead_id).filter(Q(last_engaged_at__isnull=True) | Q(last_engaged_at__lt=at)).update(
            last_engaged_at=at
        )
    if engaged:
        leads_mark_dirty(ids=engaged, now=now)
    return out


def lead_event_record(
    *,
    lead: Lead,
    kind: str,
    actor: User,
    occurred_at: datetime | None = None,
    data: dict[str, Any] | None = None,
    amount: Any = None,
    source: str = "web",
    external_id: str = "",
) -> tuple[LeadEvent, bool]:
    """Record one event; see :func:`lead_events_record`."""
    return lead_events_record(
        items=[
            {
                "lead": lead,
                "kind": kind,
                "occurred_at": occurred_at,
                "data": data,
                "amount": amount,
                "external_id": external_id,
            }
        ],
        actor=actor,
        source=source,
    )[0]


# --- overrides -----------------------------------------------------------------------------------


def _check_override_permission(actor: User | None, lead: Lead) -> None:
    require_permission(actor, "leads.override_lead_score", lead, message="You may not override lead scores.")


def _score_state(lead: Lead) -> dict[str, Any]:
    return {"score": lead.score, "tier": lead.tier, "override_score": lead.override_score}


@transaction.atomic
def lead_score_override(*, lead: Lead, score: int, reason: str, actor: User) -> Lead:
    """A person's correction: it replaces the score (and tier) shown and ranked, is kept in the
    score history with the reason, and becomes a training label for the next model.

    Needs ``leads.override_lead_score``; audited with the score before and after."""
    _check_override_permission(actor, lead)
    reason = (reason or "").strip()
    errors = {}
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
        errors["score"] = "Give a score between 0 and 100."
    if len(reason) < 3:
        errors["reason"] = "Say why: the reason is kept and teaches the model."
    if errors:
        raise ValidationError(errors)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    before = _score_state(lead)
    now = timezone.now()
    tier = tier_of([score])[0]
    Lead.objects.filter(pk=lead.pk).update(
        override_score=score,
        override_reason=reason[:2000],
        override_by=actor,
        override_at=now,
        score=score,
        tier=tier,
    )
    LeadScoreHistory.objects.create(
        lead=lead,
        score=score,
        tier=tier,
        model_version=lead.model_version,
        source=LeadScoreHistory.Source.OVERRIDE,
        reason=reason[:2000],
        actor=actor,
        created_at=now,
    )
    lead.refresh_from_db()
    audit_record(
        verb="lead.score_overridden",
        actor=actor,
        target=lead,
        data={"before": before, "after": _score_state(lead), "reason": reason[:2000]},
    )
    return lead


@transaction.atomic
def lead_score_override_clear(*, lead: Lead, actor: User, reason: str = "") -> Lead:
    """Go back to the computed score (needs ``leads.override_lead_score``; audited)."""
    _check_override_permission(actor, lead)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.override_score is None:
        return lead
    before = _score_state(lead)
    now = timezone.now()
    score = lead.computed_score
    tier = tier_of([score])[0] if score is not None else ""
    Lead.objects.filter(pk=lead.pk).update(
        override_score=None,
        override_reason="",
        override_by=None,
        override_at=None,
        score=score,
        tier=tier,
        score_dirty_at=now,
    )
    if score is not None:
        LeadScoreHistory.objects.create(
            lead=lead,
            score=score,
            tier=tier,
            model_version=lead.model_version,
            source=LeadScoreHistory.Source.CLEARED,
            reason=reason[:2000],
            actor=actor,
            created_at=now,
        )
    rescore_schedule()
    lead.refresh_from_db()
    audit_record(
        verb="lead.score_override_cleared",
        actor=actor,
        target=lead,
        data={"before": before, "after": _score_state(lead), "reason": reason[:2000]},
    )
    return lead


# --- rules ---------------------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "target",
    "path",
    "operator",
    "value",
    "aggregate",
    "within_days",
    "event_match",
    "points",
    "active",
)


def _rule_state(rule: ScoringRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


@transaction.atomic
def scoring_rule_save(*, data: dict[str, Any], actor: User, rule: ScoringRule | None = None) -> ScoringRule:
    """Create or change a rule (validated so it can always be evaluated); every lead is rescored.

    Needs ``leads.add_scoringrule`` (new) or ``leads.change_scoringrule``; audited with the
    rule before and after.
    """
    if rule is None or rule.pk is None:
        require_permission(actor, "leads.add_scoringrule", message="You may not add scoring rules.")
    else:
        require_permission(actor, "leads.change_scoringrule", rule, message="You may not change scoring rules.")
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    if rule is not None and rule.pk is not None:
        rule = ScoringRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_state(rule)
    else:
        rule, before = ScoringRule(), None
    for name, value in data.items():
        setattr(rule, name, value)
    if rule.target != ScoringRule.Target.ENGAGEMENT:
        rule.aggregate, rule.within_days, rule.event_match = ScoringRule.Aggregate.COUNT, None, {}
    rule.full_clean()
    validate_rule(rule)
    rule.save()
    after = _rule_state(rule)
    if after != before:
        verb = "scoring_rule.created" if before is None else "scoring_rule.changed"
        audit_record(verb=verb, actor=actor, target=rule, data={"before": before, "after": after})
    _rescore_all()
    return rule


@transaction.atomic
def scoring_rule_delete(*, rule: ScoringRule, actor: User) -> None:
    """Delete a rule (needs ``leads.delete_scoringrule``; audited); every lead is rescored."""
    require_permission(actor, "leads.delete_scoringrule", rule, message="You may not delete scoring rules.")
    locked = ScoringRule.objects.select_for_update().filter(pk=rule.pk).first()
    if locked is None:
        return
    audit_record(
        verb="scoring_rule.deleted", actor=actor, target=locked, data={"before": _rule_state(locked), "after": None}
    )
    locked.delete()
    _rescore_all()


def _rescore_all() -> None:
    from leads.tasks import lead_rescore_all_task

    lead_rescore_all_task.delay_on_commit()


__all__ = [
    "NotEnoughData",
    "lead_create",
    "lead_event_record",
    "lead_events_record",
    "lead_followup_draft",
    "lead_followup_request_draft",
    "lead_followup_submit",
    "lead_import_create",
    "lead_import_error_report",
    "lead_import_preview",
    "lead_import_run",
    "lead_import_start",
    "lead_score_override",
    "lead_score_override_clear",
    "lead_update",
    "leads_mark_dirty",
    "leads_rescore",
    "scoring_model_activate",
    "scoring_model_deactivate",
    "scoring_model_train",
    "scoring_rule_delete",
    "scoring_rule_save",
]

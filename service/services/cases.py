"""Changes people make to a case (status, priority, owner, tags, triage corrections) and its summary.

Every change of status, owner, priority or tags, and every triage correction, is written to the
audit trail in the transaction that makes it, with who did it and the values before and after.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.audit import audit_record
from approvals.models import ApprovalRequest
from approvals.selectors import approval_open_for_subject
from approvals.services import approval_cancel
from hitl_crm.ai.engine import run
from hitl_crm.ai.services import intent_example_add
from hitl_crm.counters import forget
from hitl_crm.permissions import has_permission, require_permission
from hitl_crm.tags import normalize_tags
from service.inbound import new_text
from service.models import Case, Message, TriageCorrection
from service.routing import SEND_REPLY
from service.selectors import CASE_COUNTS, MY_CASE_COUNTS
from service.services.replies import latest_inbound, reply_request_create, routing_flags

logger = logging.getLogger(__name__)

THREAD_FOR_SUMMARY = 30  # messages; older ones are in the previous summary's facts anyway
CASE_FIELDS = frozenset({"status", "priority", "owner", "tags"})
WORK_CASES = "service.change_case"  # who may own a case: the people who may work it


def _audited(value: Any) -> Any:
    """A field value as the audit trail keeps it (a user by id)."""
    return getattr(value, "pk", value)


# --- the summary -------------------------------------------------------------------------------


def thread_for_summary(case: Case) -> list[dict[str, str]]:
    """The case's recent messages (oldest first) in the shape the summarising skill reads."""
    recent = list(case.messages.order_by("-occurred_at", "-id")[:THREAD_FOR_SUMMARY])
    return [
        {"speaker": "Customer" if m.is_inbound else "Agent", "text": m.body} for m in reversed(recent) if m.body.strip()
    ]


def _summarise(case: Case, thread: list[dict[str, str]] | None = None) -> bool:
    """Refresh the case's summary and facts for its current thread version; True if it changed."""
    thread = thread_for_summary(case) if thread is None else thread
    if not thread:
        return False
    result = run("summarize", {"messages": thread, "max_points": 4}, subject=case)
    if not result.ok:
        logger.warning("Case %s: summary failed: %s", case.pk, result.error)
        return False
    case.summary = result.output["summary"]
    case.key_points = [p["text"] for p in result.output["key_points"]]
    case.facts = result.output["facts"]
    case.summary_version = case.thread_version
    return True


def _dated_turns(case: Case) -> list[dict[str, str]]:
    """The case's recent messages (oldest first) as the summarising skill reads turns: who (customer
    or agent, and their name), when (the message's own time, so "promised on <date>" is that day)
    and their own words without the quoted earlier mail."""
    recent = list(case.messages.order_by("-occurred_at", "-id")[:THREAD_FOR_SUMMARY])
    turns = []
    for m in reversed(recent):
        text = new_text(m.body)
        if text:
            turns.append(
                {
                    "role": "customer" if m.is_inbound else "agent",
                    "author": (m.sender_name or ("Customer" if m.is_inbound else "Agent"))[:100],
                    "at": timezone.localtime(m.occurred_at).isoformat(timespec="minutes"),
                    "text": text,
                }
            )
    return turns


def case_summary_refresh(*, case_id: int) -> bool:
    """Bring the summary up to the thread's current version (after a reply went out). Idempotent.

    A system entry point (``case_summary_task``): no actor. The summary is computed with no
    transaction open (no row lock held while the AI works) and stored only if the thread is still
    at the version it summarised; True if it was stored."""
    case = Case.objects.select_related("contact").filter(pk=case_id).first()
    if case is None or case.summary_is_current:
        return False
    version = case.thread_version
    if not _summarise(case, _dated_turns(case)):
        return False
    with transaction.atomic():
        stored = Case.objects.filter(pk=case.pk, thread_version=version, summary_version__lt=version).update(
            summary=case.summary, key_points=case.key_points, facts=case.facts, summary_version=version
        )
    return bool(stored)


# --- triage corrections -------------------------------------------------------------------------


def _reroute_ai_draft(case: Case, *, actor: User) -> ApprovalRequest | None:
    """After a correction, send the pending AI draft through routing again (same proposal, new context)."""
    current = approval_open_for_subject(action=SEND_REPLY, subject=case)
    if current is None or current.requested_by_id or current.status != ApprovalRequest.Status.PENDING:
        return None
    if current.decisions.exists():
        return None
    approval_cancel(request_id=current.pk, actor=None, reason=f"Triage corrected by {actor}; routed again.")
    flags = [f for f in current.flags if f.get("code") not in {"vip_account", "negative_sentiment"}]
    return reply_request_create(
        case,
        proposal=current.proposal,
        ai_run=current.ai_run,
        confidence=current.confidence,
        risk=current.risk,
        flags=[*flags, *routing_flags(case)],
    )


def _correct_intent(case: Case, message: Message | None, intent: str, *, actor: User) -> bool:
    intent = intent.strip()[:80]
    if not intent:
        raise ValidationError({"intent": "Give the intent."})
    if intent == case.intent and case.intent_source == Case.Source.HUMAN:
        return False
    TriageCorrection.objects.create(
        case=case, message=message, field=TriageCorrection.Field.INTENT, before=case.intent, after=intent, actor=actor
    )
    if message is not None:
        intent_example_add(text=f"{message.subject}\n{message.body}".strip(), intent=intent, source="correction")
    case.intent, case.intent_source, case.intent_confidence = intent, Case.Source.HUMAN, 1.0
    return True


def _correct_sentiment(case: Case, message: Message | None, sentiment: float, *, actor: User) -> bool:
    if not -1 <= sentiment <= 1:
        raise ValidationError({"sentiment": "Use a number between -1 and 1."})
    if sentiment == case.sentiment and case.sentiment_source == Case.Source.HUMAN:
        return False
    TriageCorrection.objects.create(
        case=case,
        message=message,
        field=TriageCorrection.Field.SENTIMENT,
        before="" if case.sentiment is None else f"{case.sentiment:+.2f}",
        after=f"{sentiment:+.2f}",
        actor=actor,
    )
    case.sentiment, case.sentiment_source = sentiment, Case.Source.HUMAN
    return True


@transaction.atomic
def case_triage_correct(*, case: Case, actor: User, intent: str | None = None, sentiment: float | None = None) -> Case:
    """A person corrects the AI's intent and/or sentiment. Needs ``service.change_case``.

    The corrected intent becomes a training example for the intent classifier (the next
    ``intent_model_train`` learns it); both corrections are kept as :class:`TriageCorrection`
    rows and in the audit trail. A pending AI draft is routed again, so a case re-labelled as
    upset reaches a manager.
    """
    require_permission(actor, "service.change_case", message="You may not change cases.")
    case = Case.objects.select_for_update(of=("self",)).select_related("contact__account").get(pk=case.pk)
    message = latest_inbound(case)
    before = {"intent": case.intent, "sentiment": case.sentiment}
    changed = False
    if intent is not None:
        changed |= _correct_intent(case, message, intent, actor=actor)
    if sentiment is not None:
        changed |= _correct_sentiment(case, message, sentiment, actor=actor)
    if changed:
        case.save()
        audit_record(
            verb="service.case_triage_corrected",
            actor=actor,
            target=case,
            data={"before": before, "after": {"intent": case.intent, "sentiment": case.sentiment}},
        )
        _reroute_ai_draft(case, actor=actor)
    return case


# --- status, priority, owner, tags ---------------------------------------------------------------


def may_work_cases(user: User | None) -> bool:
    """True when ``user`` may own a case: an active person who may change cases (support agents,
    managers, administrators)."""
    return has_permission(user, WORK_CASES)


def _person(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with tags normalised; a field that cannot take its value is a ``ValidationError`` naming it."""
    unknown = set(data) - CASE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    data = dict(data)
    if "owner" in data:
        owner = data["owner"]
        if owner is not None and not isinstance(owner, User):
            raise ValidationError({"owner": "Pick a person."})
        if owner is not None and not may_work_cases(owner):
            raise ValidationError(
                {"owner": f"{_person(owner)} cannot work cases, so cannot own one: pick a support agent or a manager."}
            )
    if "tags" in data:
        try:
            data["tags"] = normalize_tags(data["tags"])
        except ValidationError as exc:
            raise ValidationError({"tags": exc.messages}) from None
    return data


def _forget_case_counters(*, actor_id: int, owner_ids: set[int]) -> None:
    """Drop the cached figures a change of status or owner makes wrong (``hitl_crm.counters``): the
    dashboard's case counts (everyone's and the actor's own) and "Your open cases" of each owner."""
    forget(CASE_COUNTS)
    forget(CASE_COUNTS, user_id=actor_id)
    for owner_id in owner_ids:
        forget(MY_CASE_COUNTS, user_id=owner_id)


@transaction.atomic
def case_update(*, case: Case, actor: User, data: dict[str, Any]) -> Case:
    """Change status, priority, owner or tags. Needs ``service.change_case``; audited with before/after.

    The owner must be someone who may work cases (:func:`may_work_cases`); tags are normalised
    (``hitl_crm.tags``). Resolving or closing a case clears "needs a person" and cancels a pending
    AI draft. A change of status or owner forgets the dashboard's cached case figures once it commits,
    so the person sees their own change at once.
    """
    require_permission(actor, "service.change_case", message="You may not change cases.")
    data = _checked(data)
    case = Case.objects.select_for_update().get(pk=case.pk)
    before = {name: _audited(getattr(case, name)) for name in data}
    for name, value in data.items():
        setattr(case, name, value)
    done = data.get("status") in (Case.Status.RESOLVED, Case.Status.CLOSED)
    if "status" in data and data["status"] != before["status"]:
        case.resolved_at = timezone.now() if done else None
        if done:
            case.needs_human, case.needs_human_reason = False, ""
    case.full_clean(exclude=["contact"])
    case.save()
    after = {name: _audited(getattr(case, name)) for name in data}
    if after != before:
        changed = sorted(name for name in data if after[name] != before[name])
        audit_record(
            verb="service.case_updated",
            actor=actor,
            target=case,
            data={
                "before": {name: before[name] for name in changed},
                "after": {name: after[name] for name in changed},
            },
        )
    if any(after[name] != before[name] for name in ("status", "owner") if name in data):
        # The person sees their own change at once: their open cases, and the desk's figures.
        owners = {owner for owner in (before.get("owner"), case.owner_id) if owner is not None}
        transaction.on_commit(lambda: _forget_case_counters(actor_id=actor.pk, owner_ids=owners))
    if done:
        # An AI draft for a case someone has closed would answer a question nobody is asking any more.
        pending = approval_open_for_subject(action=SEND_REPLY, subject=case)
        if pending is not None and pending.requested_by_id is None and pending.status == ApprovalRequest.Status.PENDING:
            approval_cancel(
                request_id=pending.pk, actor=None, reason=f"Case marked {case.get_status_display()} by {actor}."
            )
    return case

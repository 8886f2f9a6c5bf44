"""AI follow-up drafts for leads, always through the approval gate.

``lead_followup_draft`` asks the AI (skill ``draft_followup``) to write from the lead's
history and the rep's name, and proposes the result as an approval request for
``leads.send_followup`` — requested by the AI (``requested_by=None``, the run attached), so
the draft as the AI wrote it is what reviewers' edits and verdicts are measured against.
Nothing is sent until a qualified person approves; the handler in ``leads.handlers`` sends
exactly the approved text, once.

When the AI fails (``ok=False``) nothing is proposed: the lead page says so and the rep
writes it (``lead_followup_submit``), which goes through the same gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError

from hitl_crm.permissions import require_permission
from leads.conf import app_settings
from leads.models import Lead

SEND_FOLLOWUP = "leads.send_followup"
CHANGE_LEAD = "leads.change_lead"
# The AI engine grades flags low/medium/high; the approval gate speaks info/warning/high/critical.
_SEVERITY = {"low": "info", "medium": "warning", "high": "high", "critical": "critical"}


@dataclass(frozen=True)
class DraftOutcome:
    request: Any  # approvals.models.ApprovalRequest | None
    ai_result: Any  # hitl_crm.ai.engine.AiResult
    error: str = ""


def _fresh(lead: Lead) -> Lead:
    """The lead as it is now (the caller's copy may predate an opt-out)."""
    return Lead.objects.select_related("contact", "owner", "account").get(pk=lead.pk)


def followup_blocker(lead: Lead) -> str:
    """Why no follow-up can go to this lead, or ""."""
    if not lead.email_address:
        return "This lead has no email address."
    if lead.do_not_email:
        return "This lead asked not to be emailed."
    if lead.contact_id and lead.contact and lead.contact.unsubscribed_at:
        return "This lead's contact unsubscribed from email."
    return ""


def followup_history(lead: Lead, *, limit: int | None = None) -> list[str]:
    """What the draft is written from: recent events and timeline entries, oldest first, one line each."""
    from hitl_crm.contacts.models import Activity

    limit = limit or app_settings.FOLLOWUP_HISTORY_ITEMS
    lines: list[tuple[Any, str]] = []
    for event in lead.events.order_by("-occurred_at", "-id")[:limit]:
        note = (event.data or {}).get("note") or (event.data or {}).get("text") or ""
        text = event.summary + (f" — {note}" if note else "")
        lines.append((event.occurred_at, f"{event.occurred_at:%Y-%m-%d}: {text}"))
    if lead.contact_id:
        activities = Activity.objects.filter(contact_id=lead.contact_id).exclude(kind=Activity.Kind.SYSTEM)
        for activity in activities.order_by("-occurred_at", "-id")[:limit]:
            lines.append(
                (
                    activity.occurred_at,
                    f"{activity.occurred_at:%Y-%m-%d}: {activity.get_kind_display()}: {activity.summary}",
                )
            )
    lines.sort(key=lambda item: item[0])
    return [text for _, text in lines[-limit:]]


def followup_subject(lead: Lead) -> str:
    company = lead.company_name
    return f"Following up — {company}"[:200] if company else "Following up on our conversation"


def rep_for(lead: Lead, actor: User | None) -> User | None:
    return lead.owner if lead.owner_id else actor


def _rep_name(user: User | None) -> str:
    if user is None:
        from django.conf import settings

        return getattr(settings, "HITL_CRM_COMPANY_NAME", "") or "The sales team"
    return user.get_full_name() or user.get_username()


def _flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": f.get("code", "flag"),
            "message": f.get("message", ""),
            "severity": _SEVERITY.get(f.get("severity", "medium"), "warning"),
            **({"span": f["span"]} if f.get("span") else {}),
        }
        for f in flags or []
    ]


def _context(lead: Lead) -> dict[str, Any]:
    vip = bool(lead.account_id and lead.account and lead.account.is_vip)
    return {"category": "followup", "vip": vip}


def lead_followup_draft(*, lead: Lead, actor: User | None = None) -> DraftOutcome:
    """Have the AI draft a follow-up and propose it for approval. Never sends anything.

    Returns the new approval request, or ``request=None`` with the failed AI result (the
    lead page then offers to write it by hand). Raises ValidationError when the lead cannot
    be emailed and ``approvals.exceptions.AlreadyOpen`` when a follow-up already waits.

    A system entry point: ``actor=None`` is the drafting task or the demo seed drafting on its
    own; ``actor`` is the person who asked, who needs ``leads.change_lead``.
    """
    if actor is not None:
        require_permission(actor, CHANGE_LEAD, lead, message="You may not follow up this lead.")
    from approvals.selectors import approval_open_for_subject
    from approvals.services import approval_request_create
    from hitl_crm.ai.engine import run

    lead = _fresh(lead)
    blocker = followup_blocker(lead)
    if blocker:
        raise ValidationError({"lead": blocker})
    if approval_open_for_subject(action=SEND_FOLLOWUP, subject=lead) is not None:
        from approvals.exceptions import AlreadyOpen

        raise AlreadyOpen("A follow-up for this lead is already waiting for approval.")
    rep = rep_for(lead, actor)
    inputs: dict[str, Any] = {
        "lead_name": lead.full_name or lead.email_address,
        "rep_name": _rep_name(rep),
        "history": followup_history(lead),
    }
    if lead.company_name:
        inputs["company"] = lead.company_name
    result = run("draft_followup", inputs, subject=lead)
    if not result.ok:
        return DraftOutcome(None, result, result.error)
    request = approval_request_create(
        action=SEND_FOLLOWUP,
        subject=lead,
        proposal={
            "to": lead.email_address,
            "subject": followup_subject(lead),
            "body": result.output["body"],
            "lead_id": lead.pk,
        },
        requested_by=None,
        ai_run=result.run,
        confidence=max(0.0, min(1.0, float(result.confidence))),
        risk=result.risk,
        flags=_flags(result.flags),
        context=_context(lead),
    )
    return DraftOutcome(request, result)


# --- drafting in the background (the AI may take a while) -----------------------------------------

_DRAFTING_KEY = "leads:drafting:{}"


def is_drafting(lead_id: int) -> bool:
    return bool(cache.get(_DRAFTING_KEY.format(lead_id)))


def drafting_done(lead_id: int) -> None:
    cache.delete(_DRAFTING_KEY.format(lead_id))


def lead_followup_request_draft(*, lead: Lead, actor: User) -> bool:
    """Queue an AI draft (queue ``ai``); False if one is being drafted or already waits for approval.

    Needs ``leads.change_lead``. Raises ValidationError at once when the lead cannot be emailed.
    """
    require_permission(actor, CHANGE_LEAD, lead, message="You may not follow up this lead.")
    from approvals.selectors import approval_open_for_subject
    from leads.tasks import lead_followup_draft_task

    blocker = followup_blocker(lead)
    if blocker:
        raise ValidationError({"lead": blocker})
    if approval_open_for_subject(action=SEND_FOLLOWUP, subject=lead) is not None:
        return False
    if not cache.add(_DRAFTING_KEY.format(lead.pk), 1, timeout=300):
        return False
    lead_followup_draft_task.delay_on_commit(lead.pk, actor.pk)
    return True


def lead_followup_submit(*, lead: Lead, actor: User, subject: str, body: str) -> Any:
    """A follow-up the rep wrote (e.g. after the AI could not): proposed for approval like any other.

    Needs ``leads.change_lead``.
    """
    require_permission(actor, CHANGE_LEAD, lead, message="You may not follow up this lead.")
    from approvals.services import approval_request_create

    lead = _fresh(lead)
    blocker = followup_blocker(lead)
    if blocker:
        raise ValidationError({"lead": blocker})
    return approval_request_create(
        action=SEND_FOLLOWUP,
        subject=lead,
        proposal={"to": lead.email_address, "subject": subject, "body": body, "lead_id": lead.pk},
        requested_by=actor,
        risk="low",
        flags=[
            {
                "code": "written_by_hand",
                "severity": "info",
                "message": f"Written by {actor.get_full_name() or actor.get_username()}, not by the AI.",
            }
        ],
        context=_context(lead),
    )

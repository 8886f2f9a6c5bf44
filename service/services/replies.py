"""Replies to customers: the building blocks the pipeline and people share, and a person's own reply.

Nothing here sends: a reply becomes a ``service.send_reply`` approval request, and only the
approvals executor, calling ``service.handlers``, delivers it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.exceptions import InvalidState as ApprovalInvalidState
from approvals.models import ApprovalRequest
from approvals.selectors import approval_open_for_subject
from approvals.services import approval_cancel, approval_request_create
from hitl_crm.errors import InvalidState
from hitl_crm.permissions import require_permission
from service.conf import app_settings
from service.models import Case, Message
from service.routing import SEND_REPLY, approval_flags


def review_flag(code: str, message: str, span: str, severity: str) -> dict[str, str]:
    """One flag in the shape approvals shows a reviewer (why this needs a person)."""
    return {"code": code, "message": message, "span": span, "severity": severity}


def latest_inbound(case: Case) -> Message | None:
    """The customer's newest message in the case (what a reply answers)."""
    return case.messages.filter(direction=Message.Direction.INBOUND).order_by("-occurred_at", "-id").first()


def reply_exemplars(intent: str) -> list[dict[str, str]]:
    """Previously approved replies to cases of the same intent, newest first: the drafting skill
    reuses what people have already signed off for similar questions."""
    if not intent:
        return []
    sent = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            execution_key__isnull=False,
            reply_to__isnull=False,
            case__intent=intent,
        )
        .select_related("reply_to")
        .order_by("-id")[: app_settings.EXEMPLARS]
    )
    return [
        {"id": f"reply-{m.pk}", "question": m.reply_to.body[:2000], "reply": m.body[:4000]}
        for m in sent
        if m.reply_to is not None  # always, by the filter
    ]


def agent_name(case: Case) -> str:
    """Who signs the reply: the case owner, else the support team of the company."""
    owner = case.owner if case.owner_id else None
    if owner is not None and owner.get_full_name():
        return owner.get_full_name()
    from hitl_crm.ai.conf import app_settings as ai_settings

    return f"{ai_settings.COMPANY_NAME or 'The'} Support".strip()


def reply_subject(subject: str) -> str:
    """The subject of a reply: ``Re: <subject>`` (once), on one line, never empty."""
    subject = " ".join((subject or "").split())[:280] or "Your support request"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def references_header(parent: Message) -> str:
    """RFC 5322: the parent's References (or, lacking them, its In-Reply-To) plus the parent's own id."""
    ids = [*(parent.references.split() or [parent.in_reply_to]), parent.message_id]
    return " ".join(list(dict.fromkeys(i for i in ids if i))[-20:])


def is_upset(case: Case) -> bool:
    return case.sentiment is not None and case.sentiment <= app_settings.UPSET_BELOW


def sentiment_context(case: Case) -> dict[str, Any]:
    """What approvals' policy matching reads about the customer's mood: the label "negative" only for
    a clearly upset customer (``UPSET_BELOW``), so that service decides what "upset" means; the raw
    score travels along for the audit trail."""
    if case.sentiment is None:
        return {"sentiment": "", "sentiment_score": None}
    label = "negative" if is_upset(case) else "positive" if case.sentiment >= 0.05 else "neutral"
    return {"sentiment": label, "sentiment_score": round(case.sentiment, 4)}


def reply_context(case: Case) -> dict[str, Any]:
    """What approvals' policy matching reads about a reply's case."""
    return {"category": case.intent, "vip": case.is_vip, **sentiment_context(case)}


def routing_flags(case: Case) -> list[dict[str, str]]:
    """Flags that say why a reply goes to a senior reviewer, in words a reviewer reads."""
    flags: list[dict[str, str]] = []
    account = case.contact.account if case.is_vip else None  # a VIP case always has an account
    if account is not None:
        flags.append(
            review_flag(
                "vip_account",
                f"{account.name} is a VIP account: a manager reviews every reply.",
                account.name,
                "medium",
            )
        )
    if is_upset(case):
        flags.append(
            review_flag(
                "negative_sentiment",
                f"The customer sounds upset (sentiment {case.sentiment:+.2f}): a manager reviews the reply.",
                "",
                "medium",
            )
        )
    return flags


def open_request_cancel(action: str, subject: Any, *, reason: str) -> tuple[bool, ApprovalRequest | None]:
    """Cancel the open request of ``action`` on ``subject`` (as the system, because what it proposes
    is out of date); (False, request) if it is already executing."""
    current = approval_open_for_subject(action=action, subject=subject)
    if current is None:
        return True, None
    try:
        approval_cancel(request_id=current.pk, actor=None, reason=reason)
    except ApprovalInvalidState:
        return False, current
    return True, current


def reply_request_create(
    case: Case,
    *,
    proposal: dict[str, Any],
    requested_by: User | None = None,
    ai_run: Any = None,
    confidence: float | None = None,
    risk: str = "low",
    flags: list[dict[str, Any]] | None = None,
) -> ApprovalRequest:
    """The approval request for one reply to ``case``, routed with the case's context.

    A building block, not an entry point: its callers have checked permission already
    (:func:`case_reply_submit`) or act as the system (the pipeline, ``requested_by=None``).
    """
    return approval_request_create(
        action=SEND_REPLY,
        subject=case,
        proposal=proposal,
        requested_by=requested_by,
        ai_run=ai_run,
        confidence=confidence,
        risk=risk,
        flags=approval_flags(flags or []),
        context=reply_context(case),
    )


@transaction.atomic
def case_reply_submit(*, case: Case, author: User, body: str, subject: str = "") -> ApprovalRequest:
    """A person's own reply: it goes to another reviewer for approval (the author cannot approve it).

    Replaces a pending AI draft for the case. Needs ``service.change_case``.
    """
    require_permission(author, "service.change_case", message="You may not reply to cases.")
    case = Case.objects.select_for_update(of=("self",)).select_related("contact__account").get(pk=case.pk)
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": "Write the reply."})
    if not case.contact.email:
        raise ValidationError({"body": "This customer has no email address."})
    parent = latest_inbound(case)
    ok, _ = open_request_cancel(SEND_REPLY, case, reason=f"Replaced by a reply {author} wrote.")
    if not ok:
        raise InvalidState("A reply is being sent right now; wait a moment and look at the thread again.")
    proposal = {
        "to": case.contact.email,
        "subject": (subject or "").strip() or reply_subject(case.subject),
        "body": body,
        "in_reply_to": parent.message_id if parent else "",
        "references": references_header(parent) if parent else "",
        "case_id": case.pk,
    }
    # Not a warning sign, but a person's words are never sent by the autopilot: the flag keeps it away.
    flags = [
        review_flag("written_by_agent", f"Written by {author.get_full_name() or author}.", "", "medium"),
        *routing_flags(case),
    ]
    return reply_request_create(
        case, proposal=proposal, requested_by=author, confidence=None, risk=case.risk or "low", flags=flags
    )

"""The AI redraft of a reply a reviewer sent back with "request changes".

The approvals gate calls :func:`redraft_reply` (the ``redraft`` hook of ``service.send_reply``)
inside its decision transaction: the reviewer's comment becomes the drafting skill's
instruction, and the new text becomes the next version of the same approval request.
Nothing is sent here; the new version waits for a reviewer like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from approvals.registry import Redrafted
from hitl_crm.ai import run

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest


def _customer_text(case: Any) -> str:
    """The customer's messages since our last reply (or the latest one): what the reply answers."""
    from service.models import Message

    messages = list(case.messages.order_by("-occurred_at", "-id")[:20])
    unanswered = []
    for message in messages:
        if message.direction != Message.Direction.INBOUND:
            break
        unanswered.append(message)
    chosen = list(reversed(unanswered)) or [m for m in messages if m.direction == Message.Direction.INBOUND][:1]
    return "\n\n".join(f"{m.subject}\n{m.body}".strip() for m in chosen)[:20_000]


def redraft_reply(req: ApprovalRequest, comment: str) -> Redrafted | None:
    """A new reply draft written with the reviewer's ``comment`` as its instruction; None if the AI fails.

    Uses the same grounding as the first draft (knowledge articles, approved replies of the
    same intent, refunds a person approved) and keeps the threading and recipient of the
    current payload: only the body changes.
    """
    from service.models import Case
    from service.services import agent_name as _agent_name
    from service.services import knowledge_search
    from service.services import refund_policy_lines as _refund_policy_lines
    from service.services import reply_exemplars as _exemplars

    case = Case.objects.select_related("contact", "owner").filter(pk=req.object_id).first()
    if case is None:
        return None
    text = _customer_text(case)
    if not text.strip():
        return None
    articles = knowledge_search(f"{case.subject}\n{text}\n{comment}")
    result = run(
        "draft_reply",
        {
            "customer_text": text,
            "customer_name": case.contact.full_name,
            "agent_name": _agent_name(case),
            "sentiment": max(-1.0, min(1.0, case.sentiment or 0.0)),
            "intent": case.intent or "",
            "knowledge": [{"id": f"kb-{a.pk}", "title": a.title, "body": a.body} for a in articles],
            "exemplars": _exemplars(case.intent or ""),
            "policy": _refund_policy_lines(case),
            "instruction": comment[:2000],
        },
        subject=case,
    )
    if not result.ok:
        return None
    return Redrafted(payload={**req.final, "body": result.output["body"]}, ai_run=result.run)

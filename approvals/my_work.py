"""The reviewer's part of "Mine to do today": the requests waiting for their decision, soonest due first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from approvals.exceptions import UnknownAction
from approvals.models import ApprovalRequest
from approvals.registry import get_action
from approvals.selectors import PENDING_COUNT_CAP, approval_pending_count, approval_queue_for, approval_queue_order
from hitl_crm.hooks import WorkItem, WorkSection

SHOWN = 5  # items listed on the dashboard; the queue has the rest


def _action_label(key: str) -> str:
    try:
        return get_action(key).label
    except UnknownAction:
        return key


def _item(req: ApprovalRequest, now: datetime) -> WorkItem:
    overdue = req.due_at < now
    when = (
        f"overdue by {timesince(req.due_at, now, depth=1)}"
        if overdue
        else f"due in {timeuntil(req.due_at, now, depth=1)}"
    )
    if overdue:
        badge, css = "Overdue", "pill-critical"
    elif req.escalation_level:
        badge, css = "Escalated", "pill-high"
    elif req.risk in (ApprovalRequest.Risk.HIGH, ApprovalRequest.Risk.CRITICAL):
        badge, css = f"{req.get_risk_display()} risk", f"pill-{req.risk}"
    else:
        badge, css = "", ""
    subject = req.subject
    return {
        "label": str(subject) if subject is not None else f"Request #{req.pk} (item removed)",
        "url": reverse("approvals:detail", args=[req.pk]),
        "detail": f"{_action_label(req.action)} · {when}",
        "badge": badge,
        "badge_css": css,
    }


def approvals_my_work(*, user: Any) -> list[WorkSection]:
    """Requests waiting for this user's decision, soonest due first (so overdue ones lead).

    Only for users who may open the review queue. Queries, however many requests wait: the page of
    requests, one per kind of subject shown (prefetched), the capped count and the capped overdue count.
    """
    if not (user.is_superuser or user.has_perm("approvals.view_approvalrequest")):
        return []
    now = timezone.now()
    waiting = approval_queue_for(user=user)
    rows = list(waiting.order_by(*approval_queue_order(order="due"))[:SHOWN])
    count = approval_pending_count(user=user) if len(rows) == SHOWN else len(rows)
    overdue = sum(1 for req in rows if req.due_at < now)
    if overdue == SHOWN:  # every shown item is overdue: count the rest (capped, like the badge)
        overdue = waiting.filter(due_at__lt=now).order_by()[:PENDING_COUNT_CAP].count()
    queue = reverse("approvals:queue")
    return [
        {
            "title": "Waiting for your decision",
            "items": [_item(req, now) for req in rows],
            "empty": "Nothing is waiting for your decision. New drafts and requests appear here as they arrive.",
            "more_url": f"{queue}?order=due",
            "more_label": "Open the review queue",
            "count": count,
            "capped": count >= PENDING_COUNT_CAP,
            "note": f"{overdue}{'+' if overdue >= PENDING_COUNT_CAP else ''} overdue" if overdue else "",
        }
    ]

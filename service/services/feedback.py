"""What service does when approvals closes one of its requests (connected to approvals' documented
signal in ``ServiceConfig.ready``). A system entry point: it acts as the system, audited as such."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals.audit import audit_record
from approvals.models import ApprovalRequest
from service.models import Case
from service.routing import ISSUE_REFUND, SEND_REPLY
from service.services.refunds import refund_request_close

_WHY_A_PERSON = {
    "rejected": "The reviewer rejected the draft reply",
    "expired": "The draft reply expired unreviewed",
    "failed": "Sending the approved reply failed",
}


def _case_hand_to_person(*, case_id: str, approval_status: str, request_id: int) -> None:
    """An open case whose reply was not sent goes to a person, with the reason."""
    reason = f"{_WHY_A_PERSON[approval_status]}; please write the answer."
    case = Case.objects.select_for_update().filter(pk=case_id, status__in=Case.OPEN_STATUSES).first()
    if case is None:
        return
    before = {"needs_human": case.needs_human, "needs_human_reason": case.needs_human_reason}
    Case.objects.filter(pk=case.pk).update(needs_human=True, needs_human_reason=reason, updated_at=timezone.now())
    audit_record(
        verb="service.case_needs_human",
        target=case,
        data={
            "before": before,
            "after": {"needs_human": True, "needs_human_reason": reason},
            "approval_request": request_id,
        },
    )


def on_approval_status_changed(sender: Any, *, request_id: int, action: str, old: str, new: str, **kwargs) -> None:
    """Mirror a refund decision on the refund request; hand a case with a rejected draft to a person."""
    if action not in (SEND_REPLY, ISSUE_REFUND) or new not in ("rejected", "expired", "cancelled", "failed"):
        return
    req = ApprovalRequest.objects.filter(pk=request_id).first()
    if req is None:
        return
    with transaction.atomic():
        if action == ISSUE_REFUND:
            refund_request_close(refund_id=req.object_id, approval_status=new, request_id=req.pk)
        elif new in _WHY_A_PERSON:
            _case_hand_to_person(case_id=req.object_id, approval_status=new, request_id=req.pk)

"""Refund requests people propose, and what the drafting skill may say about refunds.

The refund policy itself (reading an ask, the recommendation) is :mod:`service.refunds`; paying
is the ``service.issue_refund`` approval handler's work. Every status a refund request takes is
written to the audit trail in the transaction that sets it.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.audit import audit_record
from approvals.services import approval_request_create
from hitl_crm.errors import InvalidState
from hitl_crm.permissions import require_permission
from service import refunds as refund_policy
from service.conf import app_settings
from service.models import Case, RefundRequest
from service.routing import ISSUE_REFUND, approval_flags
from service.services.replies import routing_flags, sentiment_context


def refund_policy_lines(case: Case) -> list[str]:
    """Refunds a person has approved for this case: only these may a draft mention as approved."""
    issued = case.refunds.filter(status=RefundRequest.Status.ISSUED)
    return [
        f"Refund of {refund_policy.money(r.amount_issued or r.amount, r.currency)}"
        f"{' for order ' + r.order_ref if r.order_ref else ''} approved and issued (reference {r.gateway_reference})."
        for r in issued
    ]


@transaction.atomic
def refund_request_create(
    *,
    case: Case,
    actor: User,
    amount: Decimal,
    currency: str = "",
    order_ref: str = "",
    reason: str = "",
) -> RefundRequest:
    """An agent proposes a refund (e.g. after checking the order); it is routed like any other.

    Needs ``service.add_refundrequest``. One proposed refund per case at a time: a second one is
    an ``InvalidState`` (the API answers 409).
    """
    require_permission(actor, "service.add_refundrequest", message="You may not propose refunds.")
    currency = (currency or app_settings.DEFAULT_CURRENCY).upper()
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Must be more than zero."})
    # the case row lock serialises two proposals for the same case
    case = Case.objects.select_for_update(of=("self",)).select_related("contact__account").get(pk=case.pk)
    if case.refunds.filter(status=RefundRequest.Status.PROPOSED).exists():
        raise InvalidState("A refund for this case is already waiting for approval.")
    refund = RefundRequest.objects.create(
        case=case,
        order_ref=order_ref.strip().upper()[:64],
        amount=amount,
        currency=currency,
        reason=reason,
        recommendation=RefundRequest.Recommendation.ESCALATE,
        requested_by=actor,
        rationale=f"Proposed by {actor.get_full_name() or actor}; the policy checks were not run automatically.",
    )
    audit_record(
        verb="service.refund_requested",
        actor=actor,
        target=refund,
        data={
            "before": {"status": None},
            "after": {"status": refund.status},
            "case": case.pk,
            "amount": str(refund.amount),
            "currency": currency,
        },
    )
    approval_request_create(
        action=ISSUE_REFUND,
        subject=refund,
        requested_by=actor,
        proposal={
            "refund_request_id": refund.pk,
            "amount": str(refund.amount),
            "currency": currency,
            "order_ref": refund.order_ref,
            "reason": reason[:2000],
        },
        risk="medium",
        flags=approval_flags(routing_flags(case)),
        context={
            "category": case.intent,
            "amount": str(amount),
            "currency": currency,
            "vip": case.is_vip,
            **sentiment_context(case),
        },
    )
    return refund


#: What an approval that closed without paying makes of the refund request it was for.
_CLOSED_BY_APPROVAL = {
    "rejected": RefundRequest.Status.REJECTED,
    "expired": RefundRequest.Status.REJECTED,
    "cancelled": RefundRequest.Status.CANCELLED,
    "failed": RefundRequest.Status.FAILED,
}


def refund_request_close(*, refund_id: int | str, approval_status: str, request_id: int) -> RefundRequest | None:
    """System entry point (approvals feedback): a proposed refund whose approval closed without
    paying becomes rejected, cancelled or failed, audited as the system. Call inside a transaction.

    Returns the refund if its status changed; a refund no longer proposed is left alone."""
    new = _CLOSED_BY_APPROVAL[approval_status]
    refund = RefundRequest.objects.select_for_update().filter(pk=refund_id).first()
    if refund is None or refund.status != RefundRequest.Status.PROPOSED:
        return None
    old = refund.status
    RefundRequest.objects.filter(pk=refund.pk).update(status=new, updated_at=timezone.now())
    refund.status = new
    audit_record(
        verb="service.refund_status_changed",
        target=refund,
        data={"before": {"status": old}, "after": {"status": new}, "approval_request": request_id},
    )
    return refund

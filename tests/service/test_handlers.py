"""The approval actions: payload bounds, edits, and paying a refund exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from approvals.exceptions import InvalidEdits, InvalidPayload, TransientError
from approvals.models import ApprovalRequest
from approvals.services import approval_decide, approval_execute, approval_request_create
from service.checks import check_settings
from service.gateways import GatewayError, GatewayResult, LedgerGateway
from service.models import LedgerEntry, RefundRequest
from service.routing import ISSUE_REFUND, SEND_REPLY
from tests.service.conftest import customer_mail

pytestmark = pytest.mark.django_db

REFUND_ASK = "I bought a headlamp on order NW-21010 two days ago; it's unused. Please refund my $35."
CALLS: list[dict] = []


class RecordingGateway:
    """A payment provider stand-in: fails once with a timeout, then pays (idempotent by key)."""

    def refund(self, *, idempotency_key, amount, currency, order_ref, metadata=None) -> GatewayResult:
        CALLS.append({"key": idempotency_key, "amount": amount, "currency": currency, "order_ref": order_ref})
        if len(CALLS) == 1:
            raise TransientError("gateway timed out")
        return GatewayResult(f"psp-{idempotency_key[-6:]}", amount, currency)


def _reply(case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")


def _refund_req(case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(RefundRequest.objects.get(case=case).pk))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("to", "someone.else@example.com", "Must be the customer's own email address."),
        ("subject", "Re: hello\nBcc: everyone@example.com", "Keep the subject on one line."),
        ("in_reply_to", "<not-in-this-case@example.com>", "Must be a message of this case."),
        ("body", " ", "Write the reply."),
        ("case_id", 999, "The reply must be about this case."),
    ],
)
def test_a_reply_payload_that_would_reach_the_wrong_place_is_refused(desk, customer, receive, field, value, message):
    case = receive(customer.email, "Which jacket size?", "Small or medium?").case
    proposal = {**_reply(case).proposal, field: value}
    ApprovalRequest.objects.filter(action=SEND_REPLY).update(status="cancelled")

    with pytest.raises(InvalidPayload) as exc:
        approval_request_create(action=SEND_REPLY, subject=case, proposal=proposal)

    assert message in str(exc.value)


def test_a_reviewer_may_edit_subject_and_body_but_not_the_recipient(desk, customer, receive, support_agent):
    req = _reply(receive(customer.email, "Which jacket size?", "Small or medium?").case)

    with pytest.raises(InvalidEdits, match="to: This field cannot be edited"):
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="approve",
            edits={"to": "x@evil.example"},
        )
    with pytest.raises(InvalidEdits, match="body: This field may not be blank"):
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="approve",
            edits={"body": ""},
        )


def test_a_refund_can_be_lowered_but_never_raised_above_the_ask(
    desk, customer, receive, support_agent, make_user, run_on_commit
):
    case = receive(customer.email, "Refund", REFUND_ASK).case
    req = _refund_req(case)

    with pytest.raises(InvalidEdits, match="At most 35.00 USD"):
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="approve",
            edits={"amount": "40.00"},
        )
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=support_agent,
        verdict="approve",
        edits={"amount": "30.00"},
    )
    # a changed amount is material: a second reviewer approves the lowered refund
    req.refresh_from_db()
    with run_on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=make_user("Support agent", username="agent2"),
            verdict="approve",
        )

    assert LedgerEntry.objects.get().amount == Decimal("30.00")
    refund = RefundRequest.objects.get(case=case)
    assert (refund.amount, refund.amount_issued) == (Decimal("35.00"), Decimal("30.00"))


def test_the_ledger_pays_once_per_idempotency_key():
    gateway = LedgerGateway()

    first = gateway.refund(idempotency_key="apr-1-abc", amount=Decimal("35.00"), currency="USD", order_ref="NW-1")
    again = gateway.refund(idempotency_key="apr-1-abc", amount=Decimal("35.00"), currency="USD", order_ref="NW-1")

    assert LedgerEntry.objects.count() == 1
    assert again.duplicate
    assert again.reference == first.reference
    assert not first.duplicate
    with pytest.raises(GatewayError, match="was used for 35.00 USD"):
        gateway.refund(idempotency_key="apr-1-abc", amount=Decimal("99.00"), currency="USD", order_ref="NW-1")


def test_an_executor_retry_after_the_refund_was_paid_pays_nothing_more(
    desk, customer, receive, support_agent, run_on_commit
):
    case = receive(customer.email, "Refund", REFUND_ASK).case
    req = _refund_req(case)
    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")
    req.refresh_from_db()

    # when: the handler is run again with the same key (as a crashed-and-redelivered execution would)
    from service.handlers import issue_refund

    req.subject = RefundRequest.objects.get(case=case)
    result = issue_refund(req, req.final)

    assert result["duplicate"] is True
    assert LedgerEntry.objects.count() == 1


@override_settings(HITL_CRM_SERVICE_PAYMENT_GATEWAY="tests.service.test_handlers.RecordingGateway")
def test_the_configured_gateway_is_used_with_the_approval_as_idempotency_key(
    desk, customer, receive, support_agent, run_on_commit
):
    CALLS.clear()
    case = receive(customer.email, "Refund", REFUND_ASK).case
    req = _refund_req(case)

    # when: approved; the gateway times out once and the executor tries again
    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")

    # then: both calls carried the same key, and the refund is recorded once, paid
    req.refresh_from_db()
    assert [c["key"] for c in CALLS] == [req.execution_key, req.execution_key]
    assert CALLS[-1]["amount"] == Decimal("35.00")
    assert CALLS[-1]["order_ref"] == "NW-21010"
    refund = RefundRequest.objects.get(case=case)
    assert refund.status == "issued"
    assert refund.gateway_reference == f"psp-{req.execution_key[-6:]}"
    assert req.status == "executed"
    assert not LedgerEntry.objects.exists()


def test_a_reply_send_that_is_executed_twice_sends_once(desk, customer, receive, support_agent, run_on_commit):
    req = _reply(receive(customer.email, "Which jacket size?", "Small or medium?").case)
    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")
    req.refresh_from_db()
    from service.handlers import send_reply

    result = send_reply(req, req.final)

    assert result["duplicate"] is True
    assert len(customer_mail(customer.email)) == 1
    assert approval_execute(request_id=req.pk).status == "executed"


@override_settings(
    HITL_CRM_SERVICE_PAYMENT_GATEWAY="service.nowhere.Gateway",
    HITL_CRM_SERVICE_SLA_HOURS=0,
    HITL_CRM_SERVICE_DEFAULT_CURRENCY="dollars",
)
def test_system_checks_name_bad_settings():
    ids = sorted(e.id for e in check_settings(None))

    assert ids == ["service.E001", "service.E003", "service.E005"]

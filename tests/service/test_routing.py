"""The routing table, end to end: who can see and decide each request, and the flags they read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from approvals.exceptions import AuthorityExceeded, NotAllowed
from approvals.models import ApprovalPolicy, ApprovalRequest, Decision
from approvals.selectors import approval_queue_for, can_decide
from approvals.services import approval_decide
from hitl_crm.accounts.roles import MANAGER
from service.models import Case, LedgerEntry, RefundRequest
from service.routing import ISSUE_REFUND, ROUTINE_REPLIES, SEND_REPLY
from tests.service.conftest import customer_mail

pytestmark = pytest.mark.django_db

ROUTINE = "Hello, I'm usually a medium but I mostly wear the insulated jacket over a t-shirt. Small or medium?"
ANGRY = (
    "This is the third time I'm writing. My order NW-20488 is two weeks late, nobody answers, and your "
    "tracking page is useless. Absolutely ridiculous service."
)
LEGAL = (
    "You charged me for an order that never arrived and ignored four emails. If this isn't resolved this week "
    "my lawyer will file in small claims court."
)


@pytest.fixture
def second_manager(make_user):
    return make_user(MANAGER, username="manager2", is_staff=True)


def _reply(case: Case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")


def _refund_request(case: Case) -> ApprovalRequest:
    refund = RefundRequest.objects.get(case=case)
    return ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(refund.pk))


def _codes(req: ApprovalRequest) -> set[str]:
    return {f["code"] for f in req.flags}


def test_a_routine_question_goes_to_one_support_agent_and_autopilot_is_off(
    desk, customer, receive, support_agent, manager
):
    req = _reply(receive(customer.email, "Which jacket size?", ROUTINE).case)

    assert req.policy.name == ROUTINE_REPLIES
    assert req.risk == "low"
    assert req.required_approvals == 1
    assert can_decide(request=req, user=support_agent) == (True, "")
    assert not req.policy.autopilot_enabled  # configured, but off until an admin switches it on
    assert not req.decisions.filter(is_autopilot=True).exists()


def test_an_angry_customer_goes_to_a_manager_with_a_readable_flag(desk, customer, receive, support_agent, manager):
    case = receive(customer.email, "Third email - still no answer", ANGRY).case
    req = _reply(case)

    assert req.policy.name == "Service replies: upset customer"
    assert req not in approval_queue_for(user=support_agent)
    assert req in approval_queue_for(user=manager)
    flag = next(f for f in req.flags if f["code"] == "negative_sentiment")
    assert flag["message"].startswith("The customer sounds upset (sentiment -0.")
    with pytest.raises(NotAllowed):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")


def test_a_vip_account_goes_to_a_manager(desk, vip_customer, receive, support_agent, manager):
    req = _reply(receive(vip_customer.email, "Which jacket size?", ROUTINE).case)

    assert req.policy.name == "Service replies: VIP account"
    assert can_decide(request=req, user=support_agent)[0] is False
    assert can_decide(request=req, user=manager) == (True, "")
    vip = next(f for f in req.flags if f["code"] == "vip_account")
    assert vip["message"] == "Alpine Lodge Group is a VIP account: a manager reviews every reply."


def test_a_legal_threat_goes_to_a_manager_and_the_case_needs_a_person(desk, customer, receive, support_agent, manager):
    case = receive(customer.email, "Formal complaint", LEGAL).case
    req = _reply(case)

    assert req.risk == "high"
    assert req.policy.name == "Service replies: legal, regulator or safety risk"
    legal = next(f for f in req.flags if f["code"] == "legal_threat")
    assert legal["span"].lower() in {"lawyer", "small claims"}
    assert legal["severity"] == "high"
    assert req not in approval_queue_for(user=support_agent)
    assert req in approval_queue_for(user=manager)
    case.refresh_from_db()
    assert case.needs_human
    assert "legal action" in case.needs_human_reason
    assert case.priority == Case.Priority.HIGH


def test_a_20000_refund_is_beyond_an_agent_and_within_a_manager(
    desk, customer, receive, support_agent, manager, run_on_commit
):
    # given
    case = receive(
        customer.email,
        "Refund for the lodge order",
        "We ordered 150 sleeping bags on order PO-55821 last week and they are the wrong model. We want "
        "a refund of $20,000.",
    ).case
    req = _refund_request(case)
    assert req.policy.name == "Service refunds up to 20,000"
    assert req.required_approvals == 1
    assert "refund_over_limit" in _codes(req)
    over = next(f for f in req.flags if f["code"] == "refund_over_limit")
    assert over["message"] == "20,000.00 USD is above the refund policy limit of 500.00 USD."

    # when / then: the agent sees it but may not approve that much
    assert req in approval_queue_for(user=support_agent)
    with pytest.raises(AuthorityExceeded):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")
    assert not LedgerEntry.objects.exists()

    # when: a manager approves
    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")

    # then: paid once through the ledger, keyed by the approval
    req.refresh_from_db()
    entry = LedgerEntry.objects.get()
    assert (entry.amount, entry.currency, entry.order_ref) == (Decimal("20000.00"), "USD", "PO-55821")
    assert entry.idempotency_key == req.execution_key
    assert req.status == "executed"
    refund = RefundRequest.objects.get(case=case)
    assert refund.status == RefundRequest.Status.ISSUED
    assert refund.gateway_reference == entry.reference


def test_a_24000_refund_needs_two_managers(desk, vip_customer, receive, manager, second_manager, run_on_commit):
    case = receive(
        vip_customer.email,
        "Refund for 200 sleeping bags",
        "We ordered 200 sleeping bags for our lodges last week (order PO-55821) and every one is the wrong "
        "temperature rating. We expect a full refund of $24,000.",
    ).case
    req = _refund_request(case)
    assert req.policy.name == "Service refunds above 20,000"
    assert req.required_approvals == 2

    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    req.refresh_from_db()
    assert req.status == "pending"
    assert not LedgerEntry.objects.exists()

    with run_on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=second_manager, verdict="approve")
    req.refresh_from_db()
    assert req.status == "executed"
    assert list(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("24000.00")]


def test_a_small_refund_is_within_an_agents_authority(desk, customer, receive, support_agent, run_on_commit):
    from hitl_crm.contacts.services import activity_record  # the CRM has the order on record

    activity_record(contact=customer, kind="purchase", summary="Ordered a headlamp", data={"order_ref": "NW-21010"})
    case = receive(
        customer.email,
        "Return and refund for a headlamp",
        "I bought a headlamp on order NW-21010 three days ago and it's unused. I'd like my $35 back.",
    ).case
    refund = RefundRequest.objects.get(case=case)
    assert refund.recommendation == RefundRequest.Recommendation.APPROVE

    with run_on_commit():
        req = _refund_request(case)
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")

    refund.refresh_from_db()
    assert refund.status == "issued"
    assert refund.amount_issued == Decimal("35.00")
    assert LedgerEntry.objects.get().amount == Decimal("35.00")


def test_a_rejected_refund_pays_nothing(desk, customer, receive, support_agent, run_on_commit):
    case = receive(customer.email, "Refund", "Order NW-21010 from yesterday is unused; please refund the $35.").case

    with run_on_commit():
        req = _refund_request(case)
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="reject",
            reason="policy",
        )

    assert RefundRequest.objects.get(case=case).status == RefundRequest.Status.REJECTED
    assert not LedgerEntry.objects.exists()


def test_routine_replies_are_auto_approved_only_once_autopilot_is_switched_on_and_earned(
    desk, make_user, receive, support_agent, run_on_commit
):
    # given: an admin switched the routine policy's autopilot on, with a small sample for the test
    policy = ApprovalPolicy.objects.get(name=ROUTINE_REPLIES)
    policy.autopilot_enabled = True
    policy.autopilot_min_samples, policy.autopilot_target = 3, 0.4
    policy.autopilot_confidence, policy.autopilot_spot_check = 0.3, 0.0
    policy.save()
    from tests.factories import ContactFactory

    # … and agents approved three sizing drafts without edits
    for n in range(3):
        contact = ContactFactory(email=f"sizing{n}@customer.example")
        req = _reply(receive(contact.email, "Which jacket size?", ROUTINE).case)
        with run_on_commit():
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")
    mail.outbox.clear()

    # when: the next routine sizing question arrives, and an angry one
    routine = receive("new@customer.example", "Which jacket size?", ROUTINE).case
    angry = receive("angry@customer.example", "Third email - still no answer", ANGRY).case

    # then: the routine reply went out on autopilot, with the numbers recorded; the angry one waits
    auto = ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(routine.pk))
    assert auto.status == "executed"
    decision = Decision.objects.get(request=auto)
    assert decision.is_autopilot
    assert decision.stats["samples"] == 3
    assert len(customer_mail("new@customer.example")) == 1
    assert _reply(angry).status == "pending"
    assert customer_mail("angry@customer.example") == []

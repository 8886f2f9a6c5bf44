from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from approvals.exceptions import AlreadyOpen, InvalidInput, InvalidPayload, UnknownAction
from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent
from approvals.selectors import approval_queue_for, user_may_review
from approvals.services import approval_cancel, approval_decide, approval_request_create
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_create_routes_to_the_policy_group_and_only_them(make_email_request, make_user, sales_rep):
    # given
    agent = make_user("Support agent", username="agent1")
    # when
    req = make_email_request()
    # then
    assert req.status == ApprovalRequest.Status.PENDING
    assert req.final == req.proposal
    assert list(approval_queue_for(user=agent)) == [req]
    assert list(approval_queue_for(user=sales_rep)) == []
    assert user_may_review(user=agent, request_id=req.pk)
    assert not user_may_review(user=sales_rep, request_id=req.pk)


def test_create_sets_due_time_from_the_policy_sla_and_audits(make_email_request, email_policy):
    before = timezone.now()
    req = make_email_request()
    assert before + timedelta(minutes=60) <= req.due_at <= timezone.now() + timedelta(minutes=60)
    assert req.sla_due_at == req.due_at
    event = AuditEvent.objects.get(request=req)
    assert event.verb == "created"
    assert event.data["policy"] == "Email"
    assert event.data["groups"] == ["Support agent"]
    assert event.data["payload_hash"] == req.payload_hash


@pytest.mark.parametrize(
    ("proposal", "field"),
    [
        ({"to": "someone.else@example.com", "subject": "Hi", "body": "x"}, "to"),
        ({"subject": "Hi", "body": "x"}, "to"),
        ({"subject": "S" * 201, "body": "x"}, "subject"),
        ({"subject": "Line one\nBcc: victim@example.com", "body": "x"}, "subject"),
        ({"subject": "Hi", "body": "b" * 10_001}, "body"),
        ({"subject": "Hi", "body": "x", "bcc": "spy@example.com"}, "bcc"),
    ],
)
def test_create_rejects_an_invalid_payload_naming_the_field(email_policy, proposal, field):
    contact = ContactFactory()
    proposal = {"to": contact.email, **proposal} if field != "to" or "to" in proposal else proposal
    with pytest.raises(InvalidPayload) as excinfo:
        approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal)
    assert field in excinfo.value.errors
    assert not ApprovalRequest.objects.exists()


def test_create_refuses_unknown_actions_and_bad_risk_or_confidence(email_policy, contact):
    proposal = {"to": contact.email, "subject": "Hi", "body": "x"}
    with pytest.raises(UnknownAction):
        approval_request_create(action="nope.nothing", subject=contact, proposal=proposal)
    with pytest.raises(InvalidInput) as excinfo:
        approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal, risk="apocalyptic")
    assert "risk" in excinfo.value.errors
    with pytest.raises(InvalidInput) as excinfo:
        approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal, confidence=1.5)
    assert "confidence" in excinfo.value.errors


def test_one_open_request_per_action_and_subject(make_email_request, make_user, contact):
    # given
    agent = make_user("Support agent", username="agent1")
    first = make_email_request(contact)
    # when / then: a second proposal for the same contact waits for the first
    with pytest.raises(AlreadyOpen, match="already waiting"):
        make_email_request(contact)
    # once the first is decided, a new one may be proposed
    approval_decide(
        request_id=first.pk,
        payload_hash=first.payload_hash,
        reviewer=agent,
        verdict="reject",
        reason="tone",
    )
    second = make_email_request(contact)
    assert second.pk != first.pk


def test_the_database_itself_refuses_a_second_open_request(make_email_request, contact):
    first = make_email_request(contact)
    duplicate = ApprovalRequest(
        action=first.action,
        content_type=first.content_type,
        object_id=first.object_id,
        proposal={},
        final={},
        payload_hash="x",
        due_at=first.due_at,
        sla_due_at=first.due_at,
    )
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_most_specific_policy_wins_and_priority_breaks_ties(agents, managers, contact):
    # given: a general policy, a VIP policy and two equally specific VIP policies
    general = ApprovalPolicy.objects.create(name="General", action=NOTIFY_EMAIL, priority=100)
    general.reviewer_groups.set([agents])
    vip = ApprovalPolicy.objects.create(name="VIP", action=NOTIFY_EMAIL, vip=True)
    vip.reviewer_groups.set([managers])
    vip_high = ApprovalPolicy.objects.create(
        name="VIP, high priority", action=NOTIFY_EMAIL, vip=True, priority=5, required_approvals=2
    )
    vip_high.reviewer_groups.set([managers])
    ApprovalPolicy.objects.create(
        name="Inactive VIP", action=NOTIFY_EMAIL, vip=True, category="billing", is_active=False
    )
    proposal = {"to": contact.email, "subject": "Hi", "body": "x"}
    # when
    req = approval_request_create(
        action=NOTIFY_EMAIL, subject=contact, proposal=proposal, context={"vip": True, "category": "billing"}
    )
    # then
    assert req.policy == vip_high
    assert req.required_approvals == 2
    someone = ContactFactory()
    ordinary = approval_request_create(
        action=NOTIFY_EMAIL, subject=someone, proposal={"to": someone.email, "subject": "Hi", "body": "x"}
    )
    assert ordinary.policy == general


def test_policy_conditions_amount_risk_sentiment(refund_action, agents, managers, contact):
    angry = ApprovalPolicy.objects.create(name="Angry", action="tests.refund", negative_sentiment=True)
    angry.reviewer_groups.set([managers])
    risky = ApprovalPolicy.objects.create(name="Risky", action="tests.refund", min_risk="high")
    risky.reviewer_groups.set([managers])
    small = ApprovalPolicy.objects.create(name="Small", action="tests.refund", max_amount=Decimal("100"))
    small.reviewer_groups.set([agents])

    def route(amount, **kwargs):
        req = approval_request_create(
            action="tests.refund", subject=ContactFactory(), proposal={"amount": amount, "currency": "USD"}, **kwargs
        )
        return req.policy.name if req.policy else None

    assert route("50.00") == "Small"
    assert route("50.00", context={"sentiment": -0.6}) == "Angry"
    assert route("50.00", context={"sentiment": "negative"}) == "Angry"
    assert route("50.00", risk="critical") == "Risky"
    assert route("150.00") is None  # nothing matches: the default group reviews it


def test_the_payload_amount_routes_the_request_not_the_callers_claim(refund_policies, contact):
    # a caller claiming a small amount in the context cannot send a large refund to agents
    req = approval_request_create(
        action="tests.refund",
        subject=contact,
        proposal={"amount": "50000.00", "currency": "USD"},
        context={"amount": "10"},
    )
    assert req.policy == refund_policies["large"]
    assert req.required_approvals == 2
    assert req.context["amount"] == "50000.00"


def test_without_a_matching_policy_the_default_group_reviews_with_one_approval(
    refund_action, contact, manager, support_agent
):
    req = approval_request_create(action="tests.refund", subject=contact, proposal={"amount": "5", "currency": "USD"})
    assert req.policy is None
    assert req.required_approvals == 1
    assert list(approval_queue_for(user=manager)) == [req]
    assert list(approval_queue_for(user=support_agent)) == []


def test_reviewers_are_emailed_a_link_after_commit(make_email_request, make_user, on_commit):
    # given
    make_user("Support agent", username="agent1", email="agent1@staff.example")
    make_user("Support agent", username="agent2", email="")  # no address: skipped
    # when
    with on_commit():
        req = make_email_request()
    # then
    assert [m.to for m in mail.outbox] == [["agent1@staff.example"]]
    message = mail.outbox[0]
    assert "Email a contact" in message.subject
    assert "http://127.0.0.1:8000/approvals/r/" in message.body
    assert req.proposal["body"] not in message.body  # the customer's text stays in the app


def test_a_rollback_after_creating_a_request_enqueues_nothing(make_email_request, make_user, on_commit):
    make_user("Support agent", username="agent1")
    events_before = AuditEvent.objects.count()  # group memberships are audited too

    def create_then_fail():
        with transaction.atomic():
            make_email_request()
            raise RuntimeError("the caller's transaction fails")

    with on_commit() as callbacks, pytest.raises(RuntimeError):
        create_then_fail()
    assert callbacks == []
    assert mail.outbox == []
    assert not ApprovalRequest.objects.exists()
    assert AuditEvent.objects.count() == events_before  # the audit commits with the change or not at all


def test_the_requester_can_cancel_their_own_request_but_not_others(make_email_request, sales_rep, make_user):
    other = make_user("Sales rep", username="rep2")
    req = make_email_request(requested_by=sales_rep)
    from approvals.exceptions import NotAllowed

    with pytest.raises(NotAllowed):
        approval_cancel(request_id=req.pk, actor=other)
    approval_cancel(request_id=req.pk, actor=sales_rep, reason="Customer called")
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.CANCELLED
    assert AuditEvent.objects.filter(request=req, verb="cancelled").get().data["reason"] == "Customer called"

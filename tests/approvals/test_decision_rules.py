"""The decision rules: a decision names its payload version, limits are money, meaningful edits need
another reviewer, and "request changes" sends the item back instead of rejecting it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.exceptions import AuthorityExceeded, InvalidDecision, InvalidEdits, InvalidInput, PayloadConflict
from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent, AuthorityLimit, Decision, ExchangeRate
from approvals.registry import register, unregister
from approvals.services import approval_decide, approval_request_create, approval_request_revise
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
Status = ApprovalRequest.Status


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


@pytest.fixture
def agent2(make_user):
    return make_user("Support agent", username="agent2")


def fresh(req: ApprovalRequest) -> ApprovalRequest:
    return ApprovalRequest.objects.get(pk=req.pk)


# --- a decision applies only to the payload the reviewer saw ------------------------------------


def test_a_decision_for_an_older_version_is_a_conflict_and_decides_nothing(make_refund, manager, make_user):
    # given: two managers must approve 30,000; both open version 1
    second = make_user("Manager", username="manager2")
    req = make_refund("30000.00")
    seen_by_second = req.payload_hash
    # when: the first lowers it to 20,500 and approves; the second approves what they saw
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=manager,
        verdict="approve_with_edits",
        edits={"amount": "20500.00"},
    )
    with pytest.raises(PayloadConflict, match="changed since you opened it") as excinfo:
        approval_decide(request_id=req.pk, payload_hash=seen_by_second, reviewer=second, verdict="approve")
    # then: nothing was decided on their behalf, and they are handed the current version
    current = fresh(req)
    assert current.status == Status.PENDING
    assert current.decisions.filter(reviewer=second).count() == 0
    assert excinfo.value.payload["amount"] == "20500.00"
    assert excinfo.value.payload_hash == current.payload_hash
    assert excinfo.value.version == current.version == 2


def test_a_decision_without_the_payload_hash_is_refused_naming_the_field(make_email_request, agent):
    req = make_email_request()
    with pytest.raises(InvalidDecision) as excinfo:
        approval_decide(request_id=req.pk, payload_hash="", reviewer=agent, verdict="approve")
    assert "payload_hash" in excinfo.value.errors
    assert fresh(req).decisions.count() == 0


def test_autopilot_decisions_carry_the_hash_and_version_they_approved(email_policy, make_email_request, on_commit):
    # given: autopilot on, and a record of 60 unedited approvals in the category
    from tests.approvals.test_autopilot import _history

    email_policy.autopilot_enabled = True
    email_policy.autopilot_confidence = 0.9
    email_policy.autopilot_target = 0.9
    email_policy.autopilot_min_samples = 40
    email_policy.autopilot_spot_check = 0.0
    email_policy.save()
    _history(approved=60)
    # when
    with on_commit():
        req = make_email_request(confidence=0.95, context={"category": "shipping"})
    # then
    req = fresh(req)
    decision = req.decisions.get(is_autopilot=True)
    assert decision.payload_hash == req.payload_hash
    assert decision.version == 1
    event = AuditEvent.objects.get(request=req, verb="auto_approved")
    assert event.data["payload_hash"] == req.payload_hash
    assert event.data["version"] == 1


# --- authority limits are money -------------------------------------------------------------------


def test_an_amount_in_a_currency_without_a_rate_is_refused_naming_the_currency(make_refund):
    # an agent could approve "499" when the 499 were Kuwaiti dinars (about 1,600 USD)
    with pytest.raises(InvalidInput) as excinfo:
        approval_request_create(
            action="tests.refund", subject=ContactFactory(), proposal={"amount": "499.00", "currency": "KWD"}
        )
    assert "KWD" in excinfo.value.errors["currency"]
    assert not ApprovalRequest.objects.exists()


def test_an_unknown_currency_code_is_refused_naming_the_field(make_refund):
    with pytest.raises(InvalidInput) as excinfo:
        approval_request_create(
            action="tests.refund", subject=ContactFactory(), proposal={"amount": "10.00", "currency": "XYZ"}
        )
    assert "not a known ISO 4217" in excinfo.value.errors["currency"]


def test_with_a_rate_an_agent_cannot_approve_499_kwd_above_their_500_usd_limit(make_refund, agent, manager):
    # given: 1 KWD = 3.25 USD, so 499 KWD = 1,621.75 USD
    ExchangeRate.objects.create(
        currency="KWD", base_currency="USD", rate=Decimal("3.25"), valid_from=timezone.localdate() - timedelta(days=1)
    )
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "499.00", "currency": "KWD"}
    )
    assert req.policy.name == "Refunds ≤ 20k"
    # when / then
    with pytest.raises(AuthorityExceeded, match="500.00 USD; this is 499.000 KWD"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    assert fresh(req).status == Status.APPROVED


@pytest.fixture
def one_limit_policy(refund_action, managers):
    """Every refund to managers, whose limit is 20,000 USD (and 15,000 EUR)."""
    policy = ApprovalPolicy.objects.create(name="All refunds", action="tests.refund")
    policy.reviewer_groups.set([managers])
    AuthorityLimit.objects.create(policy=policy, group=managers, currency="USD", max_amount=Decimal("20000"))
    AuthorityLimit.objects.create(policy=policy, group=managers, currency="EUR", max_amount=Decimal("15000"))
    return policy


def _refund(amount: str, currency: str = "USD") -> ApprovalRequest:
    return approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": amount, "currency": currency}
    )


def test_the_limit_is_inclusive_to_the_cent(one_limit_policy, manager):
    at_limit, above = _refund("20000.00"), _refund("20000.01")
    approval_decide(request_id=at_limit.pk, payload_hash=at_limit.payload_hash, reviewer=manager, verdict="approve")
    assert fresh(at_limit).status == Status.APPROVED
    with pytest.raises(AuthorityExceeded, match="20,000.00 USD; this is 20,000.01 USD"):
        approval_decide(request_id=above.pk, payload_hash=above.payload_hash, reviewer=manager, verdict="approve")
    assert fresh(above).status == Status.PENDING


def test_limits_are_per_currency(one_limit_policy, manager):
    # 16,000 EUR is under the USD number but over the EUR limit: the EUR limit applies
    euros = _refund("16000.00", "EUR")
    with pytest.raises(AuthorityExceeded, match="15,000.00 EUR"):
        approval_decide(request_id=euros.pk, payload_hash=euros.payload_hash, reviewer=manager, verdict="approve")
    ok = _refund("15000.00", "EUR")
    approval_decide(request_id=ok.pk, payload_hash=ok.payload_hash, reviewer=manager, verdict="approve")
    assert fresh(ok).status == Status.APPROVED


def test_a_currency_whose_rate_was_removed_is_refused_at_decision_time(one_limit_policy, manager):
    ExchangeRate.objects.create(currency="GBP", base_currency="USD", rate=Decimal("1.27"))
    req = _refund("100.00", "GBP")
    ExchangeRate.objects.all().delete()
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    assert "No exchange rate from GBP" in excinfo.value.errors["currency"]


# --- edits that change meaning need another pair of eyes ---------------------------------------------

REWRITTEN = (
    "Dear customer, apologies: the parcel was lost by the carrier. We ship a replacement on Monday by express, "
    "free of charge, and refund the postage."
)


def test_a_rewrite_above_the_policy_ratio_needs_a_second_reviewer(make_email_request, agent, agent2, on_commit):
    # given: one approval is enough for this policy
    req = make_email_request()
    assert req.required_approvals == 1
    # when: the reviewer rewrites most of the message and approves
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve",
            edits={"body": REWRITTEN},
        )
    # then: they wrote it, so it waits for someone else
    req = fresh(req)
    assert req.status == Status.PENDING
    assert req.required_approvals == 2
    decision = req.decisions.get()
    assert decision.edit_ratio > 0.5
    assert decision.second_review == Decision.SecondReview.REWRITE
    # a colleague approves the rewritten text: now it goes
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent2, verdict="approve")
    assert fresh(req).status == Status.EXECUTED


def test_the_rewrite_ratio_is_a_policy_setting(email_policy, make_email_request, agent):
    email_policy.second_review_edit_ratio = 0.95
    email_policy.save()
    req = make_email_request()
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="approve",
        edits={"body": REWRITTEN},
    )
    req = fresh(req)
    assert req.status == Status.APPROVED
    assert req.decisions.get().second_review == ""


def test_a_material_amount_edit_is_recorded_as_such_and_needs_another_reviewer(make_refund, agent, agent2):
    # given: 1,200 USD (above the agent's 500) — the agent lowers it to 400 and approves
    req = make_refund("1200.00")
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="approve",
        edits={"amount": "400.00"},
    )
    # then: a material change, recorded with before and after, and a second reviewer is needed
    req = fresh(req)
    decision = req.decisions.get()
    assert decision.material == [
        {
            "field": "amount",
            "label": "Amount",
            "before": "1200.00",
            "after": "400.00",
            "display": "Amount changed from 1,200.00 USD to 400.00 USD",
        }
    ]
    assert decision.second_review == Decision.SecondReview.MATERIAL
    assert req.status == Status.PENDING
    assert req.required_approvals == 2
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent2, verdict="approve")
    assert fresh(req).status == Status.APPROVED


# --- request changes sends it back --------------------------------------------------------------------


def test_request_changes_without_a_redraft_hook_keeps_the_request_for_its_requester(make_refund, manager, sales_rep):
    # given: a refund a colleague asked for, which needs two managers above 20,000
    req = make_refund("30000.00", requested_by=sales_rep)
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    # when: the other manager asks for changes
    from tests.factories import UserFactory

    other = UserFactory(roles=["Manager"], username="manager2")
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=other,
        verdict="request_changes",
        comment="Split it: 20,000 now, the rest after the audit.",
    )
    # then: not rejected — the same request waits, at the same version, for its requester
    req = fresh(req)
    assert req.status == Status.PENDING
    assert req.version == 1
    # the requester revises it: a new version of the same request; the old approval stops counting
    approval_request_revise(
        request_id=req.pk, actor=sales_rep, payload={"amount": "20500.00", "currency": "USD", "note": "first part"}
    )
    req = fresh(req)
    assert (req.status, req.version, req.final["amount"]) == (Status.PENDING, 2, "20500.00")
    assert req.approvals_count == 0
    assert list(req.versions.values_list("number", "source")) == [(1, "proposal"), (2, "revision")]


def test_request_changes_with_a_redraft_hook_makes_a_new_version_from_the_comment(
    refund_action, email_policy, agent, agent2, on_commit
):
    # given: an action whose redraft hook rewrites the note as it is told
    from dataclasses import replace

    from django.db import connection

    seen = []

    def redraft(req, comment):
        seen.append((comment, connection.in_atomic_block))
        return {**req.final, "note": f"Redrafted: {comment}"}

    action = replace(refund_action.REFUND, key="tests.refund_redraft", redraft=redraft)
    register(action)
    try:
        policy = ApprovalPolicy.objects.create(name="redraft", action=action.key, required_approvals=2)
        policy.reviewer_groups.set(email_policy.reviewer_groups.all())
        req = approval_request_create(
            action=action.key, subject=ContactFactory(), proposal={"amount": "20.00", "currency": "USD"}
        )
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent2, verdict="approve")
        # when
        with on_commit():
            approval_decide(
                request_id=req.pk,
                payload_hash=req.payload_hash,
                reviewer=agent,
                verdict="request_changes",
                comment="Say it is a goodwill gesture",
            )
    finally:
        unregister(action.key)
    # then: the same request, pending, version 2 written from the comment; the earlier approval is void
    req = fresh(req)
    assert [comment for comment, _ in seen] == ["Say it is a goodwill gesture"]
    assert req.status == Status.PENDING
    assert req.version == 2
    assert req.final["note"] == "Redrafted: Say it is a goodwill gesture"
    assert req.approvals_count == 0
    assert req.versions.get(number=2).note == "Say it is a goodwill gesture"


def test_a_redraft_never_runs_inside_the_decision_and_never_lands_on_a_newer_version(
    refund_action, email_policy, agent, agent2
):
    # given: a redraft hook (the AI: possibly a network call) and a reviewer asking for changes
    from dataclasses import replace

    from approvals.services import approval_redraft

    calls = []

    def redraft(req, comment):
        calls.append(comment)
        return {**req.final, "note": f"Redrafted: {comment}"}

    action = replace(refund_action.REFUND, key="tests.refund_redraft_late", redraft=redraft)
    register(action)
    try:
        policy = ApprovalPolicy.objects.create(name="redraft late", action=action.key)
        policy.reviewer_groups.set(email_policy.reviewer_groups.all())
        req = approval_request_create(
            action=action.key, subject=ContactFactory(), proposal={"amount": "20.00", "currency": "USD"}
        )
        # when: the decision commits without running the hook (it is queued for after commit) …
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="request_changes",
            comment="Shorter",
        )
        assert calls == []
        decision = req.decisions.get()
        # … and someone else's edit lands before the queued redraft runs
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent2,
            verdict="approve_with_edits",
            edits={"note": "A person's own wording"},
        )
        edited = fresh(req)
        approval_redraft(request_id=req.pk, decision_id=decision.pk)
    finally:
        unregister(action.key)
    # then: the stale redraft is not applied: the person's edit stays the current version
    after = fresh(req)
    assert calls == []
    assert after.final["note"] == "A person's own wording"
    assert after.payload_hash == edited.payload_hash

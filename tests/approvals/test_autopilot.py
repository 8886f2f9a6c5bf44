"""Autopilot: earned autonomy from the humans' record, with every number recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.autopilot import spot_check_draw, wilson_lower
from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalRequest, AuditEvent, AutopilotState, Decision
from approvals.payloads import payload_hash
from approvals.services import approval_decide
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
Status = ApprovalRequest.Status


def test_wilson_lower_bound_matches_published_values():
    # reference values: Wilson score interval, z = 1.96
    assert wilson_lower(0, 0) == 0.0
    assert wilson_lower(95, 100) == pytest.approx(0.8882, abs=1e-4)
    assert wilson_lower(50, 50) == pytest.approx(0.9287, abs=1e-4)
    assert wilson_lower(10, 10) == pytest.approx(0.7225, abs=1e-4)
    # more evidence for the same rate gives a tighter (higher) bound
    assert wilson_lower(990, 1000) > wilson_lower(99, 100) > wilson_lower(10, 10)


def test_spot_check_draw_is_deterministic_and_uniform_enough():
    assert spot_check_draw(42) == spot_check_draw(42)
    draws = [spot_check_draw(i) for i in range(1, 2001)]
    assert all(0 <= d < 1 for d in draws)
    assert 0.07 < sum(d < 0.1 for d in draws) / len(draws) < 0.13


@pytest.fixture
def autopilot_policy(email_policy):
    email_policy.autopilot_enabled = True
    email_policy.autopilot_confidence = 0.9
    email_policy.autopilot_target = 0.9
    email_policy.autopilot_min_samples = 40
    email_policy.autopilot_window_days = 30
    email_policy.autopilot_spot_check = 0.0
    email_policy.save()
    return email_policy


def _history(
    *, approved: int, edited: int = 0, rejected: int = 0, category: str = "shipping", days_ago: int = 1, reviewer=None
):
    """Past human decisions on notify_email requests of ``category``."""
    from tests.factories import UserFactory

    reviewer = reviewer or UserFactory(username="history-reviewer")
    when = timezone.now() - timedelta(days=days_ago)
    verdicts = ["approve"] * approved + ["approve_with_edits"] * edited + ["reject"] * rejected
    for verdict in verdicts:
        contact = ContactFactory()
        from django.contrib.contenttypes.models import ContentType

        payload = {"to": contact.email, "subject": "s", "body": "b"}
        req = ApprovalRequest.objects.create(
            action=NOTIFY_EMAIL,
            content_type=ContentType.objects.get_for_model(contact),
            object_id=str(contact.pk),
            proposal=payload,
            final=payload,
            payload_hash=payload_hash(payload),
            category=category,
            status=Status.REJECTED if verdict == "reject" else Status.EXECUTED,
            due_at=when,
            sla_due_at=when,
            created_at=when - timedelta(minutes=30),
            decided_at=when,
        )
        Decision.objects.create(
            request=req,
            reviewer=reviewer,
            verdict=verdict,
            payload_hash=req.payload_hash,
            reason="tone" if verdict == "reject" else "",
            created_at=when,
            edit_ratio=0.2 if verdict == "approve_with_edits" else 0.0,
        )


def _propose(make_email_request, confidence=0.95, category="shipping", **kwargs):
    return make_email_request(confidence=confidence, context={"category": category}, **kwargs)


def test_autopilot_approves_a_proven_case_and_records_the_numbers(autopilot_policy, make_email_request, on_commit):
    # given: 60 of 60 recent human decisions approved the drafts unchanged (bound ≈ 0.940)
    _history(approved=60)
    # when
    with on_commit():
        req = _propose(make_email_request)
    # then
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    decision = req.decisions.get()
    assert decision.is_autopilot
    assert decision.reviewer is None
    assert decision.stats["confidence"] == 0.95
    assert decision.stats["threshold"] == 0.9
    assert decision.stats["samples"] == 60
    assert decision.stats["acceptance"] == 1.0
    assert decision.stats["wilson_lower"] == pytest.approx(wilson_lower(60, 60), abs=1e-4)
    assert decision.stats["target"] == 0.9
    assert decision.stats["min_samples"] == 40
    assert decision.stats["window_days"] == 30
    assert decision.stats["spot_check_share"] == 0.0
    assert decision.stats["spot_check_draw"] == pytest.approx(spot_check_draw(req.pk), abs=1e-6)
    assert AuditEvent.objects.filter(request=req, verb="auto_approved").exists()
    assert AuditEvent.objects.filter(verb="autopilot_promoted").count() == 1


def test_autopilot_is_off_by_default(email_policy, make_email_request):
    _history(approved=200)
    req = _propose(make_email_request)
    assert req.status == Status.PENDING
    assert not req.decisions.exists()


def test_the_global_switch_stops_every_autopilot(autopilot_policy, make_email_request, settings):
    settings.HITL_CRM_APPROVALS_AUTOPILOT = False
    _history(approved=200)
    assert _propose(make_email_request).status == Status.PENDING


def test_too_few_samples_go_to_humans(autopilot_policy, make_email_request):
    _history(approved=39)  # all approved, but below the minimum of 40
    req = _propose(make_email_request)
    assert req.status == Status.PENDING
    event = AuditEvent.objects.get(request=req, verb="autopilot_skipped")
    assert event.data["reason"] == "not enough human decisions yet"
    assert event.data["samples"] == 39


def test_a_bound_below_target_goes_to_humans(autopilot_policy, make_email_request):
    # 54 of 60 approved unchanged: acceptance 0.90, but the lower bound is ≈ 0.80 < 0.90
    _history(approved=54, edited=3, rejected=3)
    req = _propose(make_email_request)
    assert req.status == Status.PENDING
    event = AuditEvent.objects.get(request=req, verb="autopilot_skipped")
    assert event.data["reason"] == "acceptance lower bound below target"
    assert event.data["acceptance"] == 0.9
    assert event.data["wilson_lower"] == pytest.approx(wilson_lower(54, 60), abs=1e-4)


def test_low_confidence_goes_to_humans(autopilot_policy, make_email_request):
    _history(approved=60)
    req = _propose(make_email_request, confidence=0.6)
    assert req.status == Status.PENDING
    assert AuditEvent.objects.get(request=req, verb="autopilot_skipped").data["reason"] == (
        "confidence below the policy's threshold"
    )
    assert _propose(make_email_request, confidence=None).status == Status.PENDING


def test_high_risk_or_a_serious_flag_always_goes_to_humans(autopilot_policy, make_email_request):
    _history(approved=100)
    risky = _propose(make_email_request, risk="high")
    flagged = _propose(make_email_request, flags=[{"code": "refund_promise", "message": "Promises a refund"}])
    informational = _propose(make_email_request, flags=[{"code": "ok", "message": "fyi", "severity": "info"}])
    assert risky.status == Status.PENDING
    assert flagged.status == Status.PENDING
    assert informational.status != Status.PENDING
    assert AuditEvent.objects.get(request=flagged, verb="autopilot_skipped").data["reason"] == (
        "flagged: refund_promise"
    )


def test_the_category_is_judged_on_its_own_record(autopilot_policy, make_email_request):
    _history(approved=100, category="shipping")
    assert _propose(make_email_request, category="billing").status == Status.PENDING
    assert _propose(make_email_request, category="shipping").status != Status.PENDING


def test_old_decisions_outside_the_window_do_not_count(autopilot_policy, make_email_request):
    _history(approved=100, days_ago=45)
    assert _propose(make_email_request).status == Status.PENDING


def test_spot_checks_send_a_deterministic_share_to_humans(autopilot_policy, make_email_request):
    # given: a proven case with a 30% spot-check share
    autopilot_policy.autopilot_spot_check = 0.3
    autopilot_policy.save()
    _history(approved=100)
    # when
    requests = [_propose(make_email_request) for _ in range(30)]
    # then: exactly those whose draw falls under the share went to humans, and it says so
    for req in requests:
        expected_human = spot_check_draw(req.pk) < 0.3
        assert (req.status == Status.PENDING) == expected_human
        if expected_human:
            event = AuditEvent.objects.get(request=req, verb="autopilot_spot_check")
            assert event.data["spot_check_draw"] < 0.3
    assert 0 < sum(r.status == Status.PENDING for r in requests) < 30


def test_rejections_demote_the_autopilot_and_the_audit_says_why(autopilot_policy, make_email_request, make_user):
    # given: autopilot earned on 45 clean approvals (bound ≈ 0.92)
    _history(approved=45)
    assert _propose(make_email_request).status != Status.PENDING
    assert AutopilotState.objects.get(policy=autopilot_policy, category="shipping").active
    # when: humans start rejecting the spot-checked / low-confidence drafts
    agent = make_user("Support agent", username="agent1")
    for _ in range(3):
        req = _propose(make_email_request, confidence=0.5)
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="reject",
            reason="wrong_facts",
        )
    # then: the bound fell below 0.9 → demoted at once, with the numbers
    state = AutopilotState.objects.get(policy=autopilot_policy, category="shipping")
    assert not state.active
    demotion = AuditEvent.objects.get(verb="autopilot_demoted")
    assert "fell below target" in demotion.data["why"]
    assert demotion.data["samples"] == 46  # the first rejection already pulled the bound under 0.9
    assert demotion.data["wilson_lower"] < 0.9
    # and the next confident draft goes to a human
    assert _propose(make_email_request).status == Status.PENDING

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from approvals.selectors import approval_queue_for
from approvals.services import approval_decide, approval_escalate_overdue

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
Status = ApprovalRequest.Status


def test_an_overdue_request_escalates_to_the_escalation_group_and_never_approves(
    make_email_request, make_user, on_commit
):
    # given: an email request for agents with a 60-minute SLA, unanswered
    make_user("Support agent", username="agent1", email="agent1@staff.example")
    boss = make_user("Manager", username="boss1", email="boss1@staff.example")
    req = make_email_request()
    assert list(approval_queue_for(user=boss)) == []
    mail.outbox.clear()
    # when: 61 minutes later the beat runs
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False), on_commit():
        escalated = approval_escalate_overdue()
    # then
    assert escalated == 1
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert req.escalation_level == 1
    assert req.due_at > timezone.now() + timedelta(minutes=60)
    assert list(approval_queue_for(user=boss)) == [req]
    assert [m.to for m in mail.outbox] == [["boss1@staff.example"]]
    assert mail.outbox[0].subject.startswith("[Escalated]")
    event = AuditEvent.objects.get(request=req, verb="escalated")
    assert event.data["groups"] == ["Manager"]
    assert not req.decisions.exists()
    # and the escalated manager can now decide
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=boss,
        verdict="reject",
        reason="not_needed",
    )


def test_a_request_that_is_not_overdue_is_left_alone(make_email_request):
    req = make_email_request()
    assert approval_escalate_overdue(now=timezone.now() + timedelta(minutes=59)) == 0
    req.refresh_from_db()
    assert req.escalation_level == 0


def test_after_the_last_escalation_the_request_expires_it_fails_closed(make_email_request, settings):
    settings.HITL_CRM_APPROVALS_MAX_ESCALATIONS = 1
    req = make_email_request()
    start = timezone.now()
    approval_escalate_overdue(now=start + timedelta(minutes=61))
    approval_escalate_overdue(now=start + timedelta(minutes=200))
    req.refresh_from_db()
    assert req.status == Status.EXPIRED
    assert req.decided_at is not None
    assert not req.decisions.exists()
    assert list(AuditEvent.objects.filter(request=req).values_list("verb", flat=True)) == [
        "created",
        "escalated",
        "expired",
    ]


def test_decided_requests_do_not_escalate(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    req = make_email_request()
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="reject", reason="tone")
    assert approval_escalate_overdue(now=timezone.now() + timedelta(days=2)) == 0

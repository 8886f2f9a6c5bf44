import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import approval_decide
from approvals.tasks import (
    approval_escalate_overdue_task,
    approval_execute_task,
    approval_reap_stuck_task,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_execution_runs_on_the_dispatch_queue_and_survives_lost_workers():
    assert approval_execute_task.queue == "dispatch"
    assert approval_execute_task.acks_late is True
    assert approval_execute_task.reject_on_worker_lost is True


def test_escalation_and_the_reaper_are_scheduled_in_the_one_beat_schedule(settings):
    scheduled = {
        entry["task"]: entry.get("options", {}).get("queue") for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert scheduled[approval_escalate_overdue_task.name] == "default"
    assert scheduled[approval_reap_stuck_task.name] == "dispatch"


def test_a_lost_execution_message_is_swept_up(
    make_refund, make_user, refund_action, django_capture_on_commit_callbacks
):
    # given: approved, but the task message never arrived (e.g. the broker was down at commit)
    agent = make_user("Support agent", username="agent1")
    req = make_refund("50.00")
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="approve",
    )  # on-commit callbacks not run
    assert refund_action.CALLS == []
    # when: the beat's sweep runs a few minutes later
    # (the beat task runs outside a transaction, so its enqueues go out at once)
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert approval_reap_stuck_task.apply().get() == 1
    # then
    assert ApprovalRequest.objects.get(pk=req.pk).status == "executed"
    assert len(refund_action.CALLS) == 1
    # and sweeping again does nothing
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert approval_reap_stuck_task.apply().get() == 0
    assert len(refund_action.CALLS) == 1


def test_escalation_task_calls_the_service(make_email_request):
    req = make_email_request()
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        assert approval_escalate_overdue_task.apply().get() == 1
    assert ApprovalRequest.objects.get(pk=req.pk).escalation_level == 1


def test_execute_task_for_a_missing_request_does_nothing(make_refund, make_user, refund_action, caplog):
    # given: an approved refund whose execution is still due, and an id that names no request
    agent = make_user("Support agent", username="agent1")
    req = make_refund("50.00")
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    events = AuditEvent.objects.count()
    missing = ApprovalRequest.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    # when: a stale task message for the missing id arrives
    with caplog.at_level(logging.WARNING, logger="approvals.tasks"):
        result = approval_execute_task.apply(args=[missing])

    # then: it finishes without error or retry, runs no handler, touches no other request, writes no audit
    assert result.successful()
    assert refund_action.CALLS == []
    assert ApprovalRequest.objects.get(pk=req.pk).status == "approved"
    assert not ApprovalRequest.objects.filter(pk=missing).exists()
    assert AuditEvent.objects.count() == events
    assert f"Approval request {missing} does not exist; nothing to execute" in caplog.text

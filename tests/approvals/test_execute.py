"""The invariant: a handler runs only for an approved request, for exactly the approved payload
and subject version, and at most once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from approvals.exceptions import ExecutionInProgress, InvalidState, NotAllowed
from approvals.models import ApprovalRequest, AuditEvent
from approvals.payloads import payload_hash
from approvals.registry import unregister
from approvals.services import (
    approval_cancel,
    approval_decide,
    approval_escalate_overdue,
    approval_execute,
    approval_reap_stuck,
    approval_requeue,
)
from hitl_crm.contacts.services import contact_update

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
Status = ApprovalRequest.Status


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


@pytest.fixture
def approved(make_refund, agent):
    """A refund approved by an agent, execution not yet run (on-commit callbacks are not executed)."""
    req = make_refund("120.00")
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    return req


def _expire(req):
    for years in (1, 2, 3):  # two escalations, then it expires
        approval_escalate_overdue(now=timezone.now() + timedelta(days=365 * years))


@pytest.mark.parametrize("state", ["pending", "rejected", "expired", "cancelled"])
def test_the_handler_never_runs_for_a_request_that_is_not_approved(make_refund, agent, manager, refund_action, state):
    # given
    req = make_refund("120.00")
    if state == "rejected":
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="reject",
            reason="not_needed",
        )
    elif state == "expired":
        _expire(req)
    elif state == "cancelled":
        approval_cancel(request_id=req.pk, actor=manager)
    # when
    result = approval_execute(request_id=req.pk)
    # then
    assert result.status == state
    assert refund_action.CALLS == []


def test_the_handler_runs_once_however_often_execution_is_requested(approved, refund_action):
    first = approval_execute(request_id=approved.pk)
    second = approval_execute(request_id=approved.pk)
    third = approval_execute(request_id=approved.pk)
    assert first.status == second.status == third.status == Status.EXECUTED
    assert len(refund_action.CALLS) == 1
    assert refund_action.CALLS[0]["key"] == approved.execution_key
    assert first.result == {"refunded": "120.00", "key": approved.execution_key}
    verbs = list(AuditEvent.objects.filter(request=approved).values_list("verb", flat=True))
    assert verbs.count("executed") == 1


def test_a_payload_changed_in_the_database_after_approval_is_not_executed(approved, refund_action):
    # given: someone with database access raises the amount
    ApprovalRequest.objects.filter(pk=approved.pk).update(final={**approved.final, "amount": "9999.00"})
    # when
    req = approval_execute(request_id=approved.pk)
    # then
    assert req.status == Status.FAILED
    assert "changed after approval" in req.error
    assert refund_action.CALLS == []
    assert AuditEvent.objects.filter(request=req, verb="execution_refused").exists()


def test_a_forged_payload_with_a_matching_hash_has_no_approvals_and_is_not_executed(approved, refund_action):
    forged = {**approved.final, "amount": "9999.00"}
    ApprovalRequest.objects.filter(pk=approved.pk).update(final=forged, payload_hash=payload_hash(forged))
    req = approval_execute(request_id=approved.pk)
    assert req.status == Status.FAILED
    assert "0 of 1 required approvals" in req.error
    assert refund_action.CALLS == []


def test_a_status_forced_to_approved_without_decisions_is_not_executed(make_refund, refund_action):
    req = make_refund("120.00")
    ApprovalRequest.objects.filter(pk=req.pk).update(status=Status.APPROVED, execution_key="forged")
    req = approval_execute(request_id=req.pk)
    assert req.status == Status.FAILED
    assert refund_action.CALLS == []


def test_a_subject_changed_after_approval_voids_execution(approved, refund_action, agent):
    # given: the contact changes between approval and execution
    contact = approved.subject
    contact_update(contact=contact, data={"title": "Former buyer"}, actor=agent)
    # when
    req = approval_execute(request_id=approved.pk)
    # then
    assert req.status == Status.FAILED
    assert "changed after approval" in req.error
    assert refund_action.CALLS == []


def test_a_deleted_subject_voids_execution(approved, refund_action):
    approved.subject.delete()
    req = approval_execute(request_id=approved.pk)
    assert req.status == Status.FAILED
    assert "no longer exists" in req.error
    assert refund_action.CALLS == []


def test_an_uninstalled_action_is_never_executed(approved, refund_action):
    unregister("tests.refund")
    req = approval_execute(request_id=approved.pk)
    assert req.status == Status.FAILED
    assert "No approval action" in req.error


def test_a_cancelled_approval_is_not_executed(approved, manager, refund_action):
    approval_cancel(request_id=approved.pk, actor=manager, reason="customer withdrew")
    assert approval_execute(request_id=approved.pk).status == Status.CANCELLED
    assert refund_action.CALLS == []


def test_a_request_being_executed_cannot_be_cancelled(approved, manager):
    ApprovalRequest.objects.filter(pk=approved.pk).update(status=Status.EXECUTING, claimed_at=timezone.now())
    with pytest.raises(InvalidState):
        approval_cancel(request_id=approved.pk, actor=manager)


def test_transient_errors_are_retried_with_the_same_key(make_refund, agent, refund_action, on_commit):
    # given: the gateway times out twice
    refund_action.FAILURES["transient"] = 2
    req = make_refund("120.00")
    # when: the approval enqueues execution (eager tasks retry at once)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    # then
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert [c["outcome"] for c in refund_action.CALLS] == ["transient", "transient", "ok"]
    assert req.attempts == 3
    assert AuditEvent.objects.filter(request=req, verb="execution_retry").count() == 2


def test_persistent_transient_errors_end_in_failed_for_a_human(make_refund, agent, refund_action, on_commit, settings):
    settings.HITL_CRM_APPROVALS_MAX_ATTEMPTS = 3
    refund_action.FAILURES["transient"] = 100
    req = make_refund("120.00")
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert req.error.startswith("Gave up after 3 attempts")
    assert len(refund_action.CALLS) == 3


def test_a_failed_request_is_requeued_by_a_manager_only(approved, agent, manager, refund_action, on_commit):
    # given: the handler fails for good
    refund_action.FAILURES["permanent"] = True
    req = approval_execute(request_id=approved.pk)
    assert req.status == Status.FAILED
    assert req.error == "ValueError: card declined"
    # when: an agent tries, then a manager re-queues after fixing the cause
    with pytest.raises(NotAllowed):
        approval_requeue(request_id=req.pk, actor=agent)
    refund_action.FAILURES["permanent"] = False
    with on_commit():
        approval_requeue(request_id=req.pk, actor=manager)
    # then
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert [c["outcome"] for c in refund_action.CALLS] == ["error", "ok"]
    assert refund_action.CALLS[-1]["key"] == approved.execution_key  # same idempotency key
    with pytest.raises(InvalidState, match="Only failed"):
        approval_requeue(request_id=req.pk, actor=manager)


def test_a_live_claim_is_not_taken_over(approved, refund_action):
    if connection.features.has_select_for_update_skip_locked:
        pytest.skip("with row locks a live claim is a locked row: see test_integration_concurrency.py")
    # given: another worker claimed it a moment ago (without row locks, only its age tells)
    ApprovalRequest.objects.filter(pk=approved.pk).update(
        status=Status.EXECUTING, claim_token="other", claimed_at=timezone.now(), attempts=1
    )
    # when / then
    with pytest.raises(ExecutionInProgress):
        approval_execute(request_id=approved.pk)
    assert approval_reap_stuck(older_than=timedelta(minutes=2)) == 0
    assert refund_action.CALLS == []


def test_the_reaper_finishes_a_claim_whose_worker_died(approved, refund_action, django_capture_on_commit_callbacks):
    # given: a claim older than the lease, its worker gone
    ApprovalRequest.objects.filter(pk=approved.pk).update(
        status=Status.EXECUTING, claim_token="dead", claimed_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):  # the beat task runs outside a transaction
        released = approval_reap_stuck(older_than=timedelta(minutes=2))
    # then: released and re-run (eagerly here)
    assert released == 1
    req = ApprovalRequest.objects.get(pk=approved.pk)
    assert req.status == Status.EXECUTED
    assert len(refund_action.CALLS) == 1
    assert AuditEvent.objects.filter(request=req, verb="claim_released").exists()


def test_the_reaper_gives_up_after_the_last_attempt(approved, refund_action, settings):
    settings.HITL_CRM_APPROVALS_MAX_ATTEMPTS = 2
    ApprovalRequest.objects.filter(pk=approved.pk).update(
        status=Status.EXECUTING, claim_token="dead", claimed_at=timezone.now() - timedelta(hours=1), attempts=2
    )
    assert approval_reap_stuck(older_than=timedelta(minutes=2)) == 0
    req = ApprovalRequest.objects.get(pk=approved.pk)
    assert req.status == Status.FAILED
    assert "did not finish after 2 attempts" in req.error
    assert refund_action.CALLS == []

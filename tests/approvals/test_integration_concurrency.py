"""Concurrency on PostgreSQL: row locks and conditional updates make outcomes single."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, connections, transaction

from approvals.exceptions import ApprovalError, ExecutionInProgress
from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent, Decision
from approvals.services import approval_decide, approval_execute, approval_reap_stuck, approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from tests.conftest import require_service
from tests.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.urls("tests.approvals.urls_for_tests")]
THREADS = 20


@pytest.fixture
def postgres(transactional_db):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")


def _in_threads(fn, args_list):
    """Run fn(*args) in THREADS threads released together; return results or exceptions."""
    barrier = threading.Barrier(len(args_list))

    def run(args):
        try:
            barrier.wait(timeout=30)
            return fn(*args)
        except Exception as exc:  # collected and asserted by the caller
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(args_list)) as pool:
        return list(pool.map(run, args_list))


def _policy(group_name: str, *, required: int = 1) -> None:
    from django.contrib.auth.models import Group

    policy = ApprovalPolicy.objects.create(
        name=f"p-{group_name}", action="tests.refund", max_amount=Decimal("100000"), required_approvals=required
    )
    policy.reviewer_groups.set([Group.objects.get(name=group_name)])


def test_twenty_reviewers_deciding_at_once_produce_one_outcome_and_one_execution(postgres, roles, refund_action):
    # given: one request routed to 20 agents, half of whom approve while the others reject
    _policy(SUPPORT_AGENT)
    reviewers = [UserFactory(username=f"agent{i}", roles=[SUPPORT_AGENT]) for i in range(THREADS)]
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "80.00", "currency": "USD"}
    )

    def decide(user, verdict):
        close_old_connections()
        return approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=user,
            verdict=verdict,
            reason="other" if verdict == "reject" else "",
        )

    # when
    results = _in_threads(decide, [(u, "approve" if i % 2 else "reject") for i, u in enumerate(reviewers)])
    # then: one decision won, every other reviewer was told it is decided
    winners = [r for r in results if isinstance(r, ApprovalRequest)]
    losers = [r for r in results if isinstance(r, ApprovalError)]
    assert len(winners) == 1, results
    assert len(losers) == THREADS - 1, [r for r in results if not isinstance(r, ApprovalRequest | ApprovalError)]
    assert all("can no longer be decided" in str(e) for e in losers)
    assert Decision.objects.filter(request=req).count() == 1
    final = ApprovalRequest.objects.get(pk=req.pk)
    ok_calls = [c for c in refund_action.CALLS if c["outcome"] == "ok"]
    if final.decisions.get().verdict == "approve":
        assert final.status == "executed"
        assert len(ok_calls) == 1
    else:
        assert final.status == "rejected"
        assert ok_calls == []


def test_twenty_managers_on_a_two_approval_request_give_two_approvals_and_one_execution(postgres, roles, refund_action):
    _policy(MANAGER, required=2)
    managers = [UserFactory(username=f"mgr{i}", roles=[MANAGER]) for i in range(THREADS)]
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "5000.00", "currency": "USD"}
    )

    def approve(user):
        close_old_connections()
        return approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=user, verdict="approve")

    results = _in_threads(approve, [(m,) for m in managers])
    assert Counter(type(r).__name__ for r in results) == Counter({"ApprovalRequest": 2, "InvalidState": 18})
    assert Decision.objects.filter(request=req).count() == 2
    assert ApprovalRequest.objects.get(pk=req.pk).status == "executed"
    assert len([c for c in refund_action.CALLS if c["outcome"] == "ok"]) == 1


def test_twenty_executors_of_one_approved_request_run_the_handler_once(postgres, roles, refund_action, monkeypatch):
    _policy(SUPPORT_AGENT)
    agent = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "80.00", "currency": "USD"}
    )
    with monkeypatch.context() as patch:  # approve without enqueueing the execution
        patch.setattr("approvals.services._enqueue_execution", lambda req: None)
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")

    def execute():
        close_old_connections()
        try:
            return approval_execute(request_id=req.pk)
        except ExecutionInProgress as exc:
            return exc

    results = _in_threads(execute, [() for _ in range(THREADS)])
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, ExecutionInProgress)], results
    assert ApprovalRequest.objects.get(pk=req.pk).status == "executed"
    assert len([c for c in refund_action.CALLS if c["outcome"] == "ok"]) == 1
    assert AuditEvent.objects.filter(request=req, verb="executed").count() == 1


def test_a_claim_whose_worker_holds_the_row_is_live_and_is_not_taken_over(postgres, roles, refund_action, monkeypatch):
    # given: a worker is in the middle of a handler (it holds the request's row lock)
    _policy(SUPPORT_AGENT)
    agent = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "80.00", "currency": "USD"}
    )
    with monkeypatch.context() as patch:
        patch.setattr("approvals.services._enqueue_execution", lambda req: None)
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    ApprovalRequest.objects.filter(pk=req.pk).update(status="executing", claim_token="live", attempts=1)
    holding, release = threading.Event(), threading.Event()

    def live_worker():
        try:
            with transaction.atomic():
                ApprovalRequest.objects.select_for_update().get(pk=req.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=live_worker)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        # when: a redelivered task and the reaper look at it
        with pytest.raises(ExecutionInProgress):
            approval_execute(request_id=req.pk)
        from datetime import timedelta

        assert approval_reap_stuck(older_than=timedelta(0)) == 0
    finally:
        release.set()
        thread.join()
    # then: nothing ran twice; once the worker is gone, the claim is taken over and finished
    assert refund_action.CALLS == []
    assert approval_execute(request_id=req.pk).status == "executed"
    assert len(refund_action.CALLS) == 1


def test_concurrent_creates_for_one_subject_leave_one_open_request(postgres, roles, refund_action):
    _policy(SUPPORT_AGENT)
    contact = ContactFactory()

    def create(i):
        close_old_connections()
        return approval_request_create(
            action="tests.refund", subject=contact, proposal={"amount": f"{10 + i}.00", "currency": "USD"}
        )

    results = _in_threads(create, [(i,) for i in range(THREADS)])
    assert Counter(type(r).__name__ for r in results) == Counter({"ApprovalRequest": 1, "AlreadyOpen": THREADS - 1})
    assert ApprovalRequest.objects.filter(object_id=str(contact.pk)).count() == 1
    from approvals.audit import audit_verify

    assert audit_verify()[1] is None  # the chain did not fork under concurrent appends

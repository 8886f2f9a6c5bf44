"""On PostgreSQL: an Undo racing the executor at the end of the undo window. Exactly one wins:
either the approval is undone and nothing is ever sent, or it is sent once and the undo is
refused as too late; never both, never neither."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from approvals.exceptions import ApprovalError, ExecutionInProgress
from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent
from approvals.services import approval_decide, approval_execute, approval_request_create, approval_undo
from hitl_crm.accounts.roles import SUPPORT_AGENT
from tests.conftest import require_service
from tests.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.urls("tests.approvals.urls_for_tests")]
ROUNDS = 12
UNDO_OFFSETS = (-0.03, -0.01, -0.004, -0.002, 0.0, 0.002)  # seconds from the window's end


@pytest.fixture
def postgres(transactional_db):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")


def test_an_undo_racing_the_executor_at_the_window_end_has_exactly_one_winner(
    postgres, roles, refund_action, settings, monkeypatch
):
    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 10
    monkeypatch.setattr("approvals.services._enqueue_execution", lambda req: None)  # we run the executor
    policy = ApprovalPolicy.objects.create(name="p", action="tests.refund", max_amount=Decimal("100000"))
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    agent = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    outcomes = []
    for round_ in range(ROUNDS):
        req = approval_request_create(
            action="tests.refund", subject=ContactFactory(), proposal={"amount": "80.00", "currency": "USD"}
        )
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
        # the window ends a moment from now; the executor starts right at its end, the undo a
        # little earlier, at the same moment or a little later, round by round
        end = timezone.now() + timedelta(milliseconds=150)
        ApprovalRequest.objects.filter(pk=req.pk).update(execute_after=end)
        undo_offset = UNDO_OFFSETS[round_ % len(UNDO_OFFSETS)]
        results: dict[str, object] = {}

        def at(when: float, name: str, fn, request_id: int = req.pk, results: dict = results) -> threading.Thread:
            def run() -> None:
                close_old_connections()
                time.sleep(max(0.0, when - time.time()))
                try:
                    results[name] = fn(request_id)
                except (ApprovalError, ExecutionInProgress) as exc:
                    results[name] = exc
                finally:
                    connections.close_all()

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        start = end.timestamp()
        threads = [
            at(start, "execute", lambda pk: approval_execute(request_id=pk)),
            at(start + undo_offset, "undo", lambda pk: approval_undo(request_id=pk, actor=agent)),
        ]
        for thread in threads:
            thread.join(timeout=30)
        final = ApprovalRequest.objects.get(pk=req.pk)
        sent = [c for c in refund_action.CALLS if c["request"] == req.pk and c["outcome"] == "ok"]
        undone = AuditEvent.objects.filter(request=req, verb="approval.undone").count()
        if isinstance(results["undo"], ApprovalError):
            assert "Too late to undo" in str(results["undo"])
            assert final.status == ApprovalRequest.Status.EXECUTED
            assert len(sent) == 1
            assert undone == 0
            outcomes.append("sent")
        else:
            assert final.status == ApprovalRequest.Status.PENDING
            assert sent == []
            assert undone == 1
            outcomes.append("undone")
    # over the rounds both orders happened at least once on a normal machine; each was single
    assert len(outcomes) == ROUNDS

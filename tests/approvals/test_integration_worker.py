"""A real Celery worker is killed during execution; the redelivered task finishes the job once."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent
from approvals.services import approval_decide, approval_request_create
from hitl_crm.accounts.roles import SUPPORT_AGENT
from hitl_crm.contacts.models import Activity
from tests.approvals.conftest import REDIS_URL, celery_worker, stop_worker, tasks_via_redis, wait_for, worker_env
from tests.celery_worker import redis_reachable
from tests.celery_worker import test_database_url as database_url_of_test_db
from tests.conftest import require_service
from tests.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.urls("tests.approvals.urls_for_tests")]


@pytest.fixture
def services(transactional_db):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")
    require_service(redis_reachable(), "needs Redis at 127.0.0.1:6379")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # database 7 is this package's own
    yield
    redis.Redis.from_url(REDIS_URL).flushdb()


def _dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (containers often lack an init that reaps)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return True


def test_a_worker_killed_mid_execution_leaves_the_effect_happening_once(services, roles, tmp_path):
    # given: a worker on the dispatch queue and an action whose handler will hang
    from tests.approvals import worker_actions

    (tmp_path / "hang").touch()
    env = worker_env(database_url_of_test_db(), APPROVALS_TEST_DIR=str(tmp_path))
    policy = ApprovalPolicy.objects.create(name="slow", action=worker_actions.KEY)
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    agent = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    contact = ContactFactory()
    req = approval_request_create(action=worker_actions.KEY, subject=contact, proposal={"label": "once"})
    invocations = tmp_path / "invocations.log"

    with celery_worker(env=env, include="tests.approvals.worker_actions", name="first") as first:
        # when: the approval is published to the broker and the worker starts executing it
        with tasks_via_redis():
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
        wait_for(invocations.exists, timeout=90, what="the first worker to start the handler")
        child_pid = int(invocations.read_text().split()[0])
        assert os.getpgid(child_pid) == first.pid  # the handler runs in the worker's process group
        assert ApprovalRequest.objects.get(pk=req.pk).status == "executing"
        # the machine dies: worker and child are killed without a chance to acknowledge anything
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        stop_worker(first)
    wait_for(lambda: _dead(child_pid), timeout=10, what="the killed worker's child to die")
    (tmp_path / "hang").unlink()
    time.sleep(0.5)
    req.refresh_from_db()
    assert req.status == "executing"  # the claim outlived the worker

    # then: a new worker receives the redelivered task (visibility timeout) and finishes it
    with celery_worker(env=env, include="tests.approvals.worker_actions", name="second"):
        wait_for(
            lambda: ApprovalRequest.objects.get(pk=req.pk).status == "executed",
            timeout=120,
            what="the redelivered task to execute the request",
        )
    req.refresh_from_db()
    lines = invocations.read_text().splitlines()
    assert len(lines) == 2, lines  # the handler did run twice: once killed, once to completion
    assert lines[0].split()[0] != lines[1].split()[0]
    # the external effect happened once (idempotent by execution key) …
    assert (tmp_path / "effects.log").read_text().splitlines() == [req.execution_key]
    # … and the database effect once (the killed run's transaction rolled back)
    assert Activity.objects.filter(contact=contact, data__execution_key=req.execution_key).count() == 1
    assert req.attempts == 2
    verbs = list(AuditEvent.objects.filter(request=req).values_list("verb", flat=True))
    assert verbs.count("executed") == 1
    assert "claim_released" in verbs

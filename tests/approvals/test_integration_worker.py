"""A real Celery worker is killed during execution; the redelivered task finishes the job once."""

from __future__ import annotations

import os
import time

import pytest
from django.contrib.auth.models import Group

from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent
from approvals.services import approval_decide, approval_request_create
from hitl_crm.accounts.roles import SUPPORT_AGENT
from hitl_crm.contacts.models import Activity
from tests.celery_worker import (
    broker_url_for_this_process,
    celery_worker,
    kill_worker,
    process_gone,
    tasks_through_broker,
    wait_for,
)
from tests.factories import ContactFactory, UserFactory
from tests.integration.conftest import real_services  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.urls("tests.approvals.urls_for_tests"),
    pytest.mark.usefixtures("real_services"),
]


def test_a_worker_killed_mid_execution_leaves_the_effect_happening_once(roles, tmp_path):
    # given: a worker on the dispatch queue and an action whose handler will hang
    from tests.approvals import worker_actions

    (tmp_path / "hang").touch()
    broker = broker_url_for_this_process()
    worker = {
        "broker_url": broker,
        "queues": "dispatch",
        "include": "tests.approvals.worker_actions",
        "visibility_timeout": 5,  # the broker hands a dead worker's task to the next one that soon
        "extra_env": {"APPROVALS_TEST_DIR": str(tmp_path), "HTTPS": "false", "LOG_LEVEL": "INFO"},
    }
    policy = ApprovalPolicy.objects.create(name="slow", action=worker_actions.KEY)
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    agent = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    contact = ContactFactory()
    req = approval_request_create(action=worker_actions.KEY, subject=contact, proposal={"label": "once"})
    invocations = tmp_path / "invocations.log"

    with celery_worker(**worker, name="first") as first:
        # when: the approval is published to the broker and the worker starts executing it
        with tasks_through_broker(broker):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
        wait_for(invocations.exists, timeout=90, what="the first worker to start the handler", log=first.lines)
        child_pid = int(invocations.read_text().split()[0])
        assert os.getpgid(child_pid) == first.pid  # the handler runs in the worker's process group
        assert ApprovalRequest.objects.get(pk=req.pk).status == "executing"
        # the machine dies: worker and child are killed without a chance to acknowledge anything
        assert kill_worker(first) == [child_pid]
    assert process_gone(child_pid)
    (tmp_path / "hang").unlink()
    time.sleep(0.5)
    req.refresh_from_db()
    assert req.status == "executing"  # the claim outlived the worker

    # then: a new worker (the broker's database kept) receives the redelivered task and finishes it
    with celery_worker(**worker, name="second", flush=False) as second:
        wait_for(
            lambda: ApprovalRequest.objects.get(pk=req.pk).status == "executed",
            timeout=120,
            what="the redelivered task to execute the request",
            log=second.lines,
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

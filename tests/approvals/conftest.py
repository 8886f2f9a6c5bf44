"""Fixtures for approvals tests, and helpers to run a real Celery worker for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, AuthorityLimit
from approvals.registry import register, unregister
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from tests.approvals import actions
from tests.factories import ContactFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/7"  # this package's own Redis database


@pytest.fixture
def agents(roles) -> Group:
    return Group.objects.get(name=SUPPORT_AGENT)


@pytest.fixture
def managers(roles) -> Group:
    return Group.objects.get(name=MANAGER)


@pytest.fixture
def contact(db):
    return ContactFactory()


@pytest.fixture
def email_policy(agents, managers) -> ApprovalPolicy:
    """notify_email → support agents, one approval, 60-minute SLA, escalates to managers."""
    policy = ApprovalPolicy.objects.create(name="Email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=managers)
    policy.reviewer_groups.set([agents])
    return policy


@pytest.fixture
def make_email_request(email_policy):
    def make(contact=None, **kwargs):
        contact = contact or ContactFactory()
        proposal = kwargs.pop("proposal", None) or {
            "to": contact.email,
            "subject": "Your order has shipped",
            "body": "Hi,\nit left the warehouse today.",
        }
        return approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal, **kwargs)

    return make


@pytest.fixture
def refund_action():
    """The recording test action (amount field, editable amount and note)."""
    register(actions.REFUND)
    actions.CALLS.clear()
    actions.FAILURES.update(transient=0, permanent=False)
    yield actions
    unregister(actions.REFUND.key)
    actions.CALLS.clear()


@pytest.fixture
def refund_policies(refund_action, agents, managers) -> dict[str, ApprovalPolicy]:
    """The shape in DESIGN.md: agents ≤ 500, managers ≤ 20,000, above that two managers."""
    small = ApprovalPolicy.objects.create(
        name="Refunds ≤ 20k", action="tests.refund", max_amount=Decimal("20000"), escalation_group=managers
    )
    small.reviewer_groups.set([agents, managers])
    AuthorityLimit.objects.create(policy=small, group=agents, max_amount=Decimal("500"))
    AuthorityLimit.objects.create(policy=small, group=managers, max_amount=Decimal("20000"))
    large = ApprovalPolicy.objects.create(
        name="Refunds > 20k",
        action="tests.refund",
        min_amount=Decimal("20000.01"),
        required_approvals=2,
        escalation_group=managers,
    )
    large.reviewer_groups.set([managers])
    return {"small": small, "large": large}


@pytest.fixture
def make_refund(refund_policies):
    def make(amount: str = "120.00", contact=None, **kwargs):
        contact = contact or ContactFactory()
        return approval_request_create(
            action="tests.refund", subject=contact, proposal={"amount": amount, "currency": "USD"}, **kwargs
        )

    return make


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """``with on_commit():`` runs what would run after commit (tasks are eager in unit tests)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


# --- a real worker (integration) ------------------------------------------------------------


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "DJANGO_SETTINGS_MODULE": "hitl_crm.settings",
        "SECRET_KEY": "integration-test-secret-key-approvals-7c1e5b2d8f4a",
        "HTTPS": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def celery_worker(*, env: dict[str, str], include: str = "", name: str = "approvals") -> Iterator[subprocess.Popen]:
    """Start ``celery -A hitl_crm worker -Q dispatch -c 1 --pool=prefork``; stop it with SIGTERM."""
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hitl_crm",
        "worker",
        "-Q",
        "dispatch",
        "-c",
        "1",
        "--pool=prefork",
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h",
    ]
    if include:
        args += ["--include", include]
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "test-artifacts" / f"worker-{name}.log", "a")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop_worker(process)
        log.close()


def stop_worker(process: subprocess.Popen, *, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def tasks_via_redis() -> Iterator[None]:
    """Publish tasks from this process to the real broker (db 7) instead of running them eagerly."""
    from hitl_crm.celery import app

    names = ("task_always_eager", "broker_url", "broker_write_url", "broker_read_url", "broker_transport_options")
    saved = {name: app.conf[name] for name in names}
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = REDIS_URL
    app.conf.broker_transport_options = {"visibility_timeout": 5}
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        for name, value in saved.items():
            app.conf[name] = value
        app._pool = None
        app.amqp._producer_pool = None

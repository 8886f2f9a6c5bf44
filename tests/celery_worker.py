"""Run a real Celery worker subprocess against the test database and a real broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_database_url() -> str:
    """A DATABASE_URL for the database the current test run uses (PostgreSQL only)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def broker_url_for_this_process(base: str = "redis://127.0.0.1:6379", *, offset: int = 0) -> str:
    """A Redis database of this test process's own, so concurrent test runs never share a queue.

    xdist workers get 10-15; ``HITL_TEST_REDIS_DB`` pins one database for a whole run (two
    developers' runs on one machine each pick their own). ``offset`` separates a package's
    second broker from the first.
    """
    pinned = os.environ.get("HITL_TEST_REDIS_DB")
    if pinned:
        return f"{base}/{(int(pinned) + offset) % 16}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = 10 + (int("".join(ch for ch in worker if ch.isdigit()) or 0) + offset) % 6
    return f"{base}/{index}"


@contextmanager
def celery_worker(
    *, broker_url: str, queues: str = "ai,default,dispatch", extra_env: dict | None = None, concurrency: int = 1
):
    """Start ``celery worker``, wait until it is ready, and stop it with a warm shutdown.

    The broker database is emptied first: it belongs to this test process alone, and a
    message left by an earlier run must not be consumed by this one.
    """
    import redis

    redis.Redis.from_url(broker_url).flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "DJANGO_SETTINGS_MODULE": "hitl_crm.settings",
        "SECRET_KEY": "integration-test-secret-key-3f9a7c1e5b2d8f4a6c0e",
        "HITL_CRM_ALLOW_EAGER": "true",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "LOG_FORMAT": "text",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hitl_crm",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "--pool",
            "prefork",
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError("celery worker exited early:\n" + "".join(lines))
            lines.append(line)
            if "ready." in line:
                break
        else:
            raise RuntimeError("celery worker did not become ready:\n" + "".join(lines))
        process.lines = lines  # type: ignore[attr-defined]
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


@contextmanager
def tasks_through_broker(broker_url: str):
    """Make this test process publish tasks to the real broker instead of running them eagerly."""
    from hitl_crm.celery import app

    if app.conf.broker_write_url != broker_url:
        # broker_read/write_url are derived from broker_url when settings load, so all three
        # are set; connection pools are built lazily, so drop any built for another URL.
        app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = broker_url
        app._pool = None
        app.amqp._producer_pool = None
    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = True

"""Run a real Celery worker subprocess against the test database and a real broker.

The one launcher of the integration tests: ``celery_worker`` starts a worker (its own process
group, output drained to ``process.lines`` and to a log file under test-artifacts/, so a full
pipe never blocks it), ``kill_pool_child`` / ``kill_worker`` kill it the way a crash would,
``tasks_through_broker`` makes the test process publish to the same broker, and ``wait_for``
polls the outcome.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
_started = itertools.count(1)


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


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test for pytest to collect


def broker_url_for_this_process(base: str = "redis://127.0.0.1:6379", *, offset: int = 0) -> str:
    """A Redis database of this test process's own, so concurrent test runs never share a queue.

    xdist workers get 10-15; ``HITL_TEST_REDIS_DB`` moves the first one (two developers' runs
    on one machine each pick their own; xdist worker N adds N). ``offset`` separates a test's
    second broker from the first.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int("".join(ch for ch in worker if ch.isdigit()) or 0)
    pinned = os.environ.get("HITL_TEST_REDIS_DB")
    if pinned:
        return f"{base}/{(int(pinned) + number + offset) % 16}"
    return f"{base}/{10 + (number + offset) % 6}"


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str,
    log: list[str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail naming ``what``, with the
    tail of ``log`` (a worker's ``lines``) as evidence."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            tail = "".join((log or [])[-60:])
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (a worker's pool processes); [] once it is gone."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []
    return found


def process_gone(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (containers often lack an init that reaps orphans)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return True


def kill_pool_child(process: subprocess.Popen) -> int:
    """SIGKILL the pool process that runs the task, as the OOM killer or a crash would: it acknowledges
    nothing and its database session dies with it. The worker's main process redelivers the task
    (``task_reject_on_worker_lost``) to the replacement process it starts. Returns the killed pid."""
    (child,) = children(process.pid)
    os.kill(child, signal.SIGKILL)
    return child


def kill_worker(process: subprocess.Popen, *, timeout: float = 10) -> list[int]:
    """SIGKILL the whole worker — main process and pool — as a machine failure would: nothing is
    acknowledged or handed back; the broker redelivers the task after its visibility timeout.
    Returns the pids of the pool processes, once they are gone."""
    pool = children(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)
    wait_for(lambda: all(process_gone(pid) for pid in pool), timeout=timeout, what="the killed pool to die")
    return pool


def _drain(process: subprocess.Popen, lines: list[str], log_path: Path, ready: threading.Event) -> threading.Thread:
    """Copy the worker's output to ``lines`` and the log file until the pipe closes; flag readiness."""

    def run() -> None:
        with log_path.open("a") as log:
            try:
                for line in process.stdout:  # type: ignore[union-attr]
                    lines.append(line)
                    log.write(line)
                    log.flush()
                    if "ready." in line:
                        ready.set()
            except (ValueError, OSError):  # the pipe was closed when the worker stopped
                pass
        ready.set()  # also when the worker exited before it was ready: the caller checks poll()

    thread = threading.Thread(target=run, name=f"drain-{process.pid}", daemon=True)
    thread.start()
    return thread


def _stop(process: subprocess.Popen, *, timeout: float) -> None:
    """Warm shutdown (SIGTERM: finish the current task, then exit); SIGKILL the group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group (a hung main, orphans)
    process.wait()


@contextmanager
def celery_worker(
    *,
    broker_url: str | None = None,
    queues: str = "ai,default,dispatch",
    concurrency: int = 1,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
    include: str = "",
    name: str = "test",
    flush: bool = True,
    visibility_timeout: int | None = None,
    ready_timeout: float = 60,
    stop_timeout: float = 30,
) -> Iterator[subprocess.Popen]:
    """Start ``celery -A hitl_crm worker``, wait until it is ready, and stop it with a warm shutdown
    (then SIGKILL of its process group if it does not exit within ``stop_timeout``).

    ``broker_url`` defaults to ``broker_url_for_this_process()``. With ``flush`` (the default) the
    broker database is emptied first: it belongs to this test process alone, and a message left by
    an earlier run must not be consumed by this one. A second worker in the same test passes
    ``flush=False`` to receive what the first left unacknowledged; ``visibility_timeout`` (seconds)
    makes the broker redeliver such a message that soon. ``include`` adds task modules; ``name`` names
    the node (``<name>-<pid>-<n>@host``) and the log file ``test-artifacts/worker-<name>-….log``.

    The process has ``lines`` (its output so far, kept current) and ``log_path``.
    """
    import redis

    broker_url = broker_url or broker_url_for_this_process()
    if flush:
        redis.Redis.from_url(broker_url).flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "DJANGO_SETTINGS_MODULE": "hitl_crm.settings",
        "SECRET_KEY": "integration-test-secret-key-3f9a7c1e5b2d8f4a6c0e",
        "HITL_CRM_ALLOW_EAGER": "true",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        **({"CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout)} if visibility_timeout is not None else {}),
        **(extra_env or {}),
    }
    node = f"{name}-{os.getpid()}-{next(_started)}"
    args = [sys.executable, "-m", "celery", "-A", "hitl_crm", "worker", "-Q", queues, "-c", str(concurrency)]
    args += ["--pool", pool, "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    args += ["-n", f"{node}@%h"] + (["--include", include] if include else [])
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"worker-{node}.log"
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killpg reaches the pool too
    )
    lines: list[str] = []
    ready = threading.Event()
    process.lines = lines  # type: ignore[attr-defined]
    process.log_path = log_path  # type: ignore[attr-defined]
    drain = _drain(process, lines, log_path, ready)
    try:
        if not ready.wait(ready_timeout):
            raise RuntimeError(f"celery worker did not become ready in {ready_timeout}s:\n" + "".join(lines))
        if process.poll() is not None and not any("ready." in line for line in lines):
            raise RuntimeError("celery worker exited early:\n" + "".join(lines))
        yield process
    finally:
        _stop(process, timeout=stop_timeout)
        drain.join(timeout=5)
        if process.stdout:
            process.stdout.close()


@contextmanager
def tasks_through_broker(broker_url: str | None = None):
    """Make this test process publish tasks to the real broker instead of running them eagerly;
    the app's broker settings are restored afterwards."""
    from hitl_crm.celery import app

    broker_url = broker_url or broker_url_for_this_process()
    names = ("task_always_eager", "broker_url", "broker_write_url", "broker_read_url")
    saved = {key: app.conf[key] for key in names}

    def drop_pools() -> None:  # connection pools are built lazily, for the URL current at the time
        app._pool = None
        app.amqp._producer_pool = None

    # broker_read/write_url are derived from broker_url when settings load, so all three are set
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = broker_url
    drop_pools()
    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        drop_pools()

"""Helpers to watch and kill a real Celery worker started by ``tests.celery_worker.celery_worker``."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def drain(process, lines: list[str]) -> threading.Thread:
    """Keep reading the worker's output so that a full pipe never blocks it."""

    def run() -> None:
        try:
            for line in process.stdout:
                lines.append(line)
        except (ValueError, OSError):  # the pipe was closed when the worker stopped
            return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def kill_pool_child(process) -> int:
    """SIGKILL the pool process that runs the task, as the OOM killer or a crash would: it acknowledges
    nothing and its database session dies with it. The worker's main process redelivers the task
    (``task_reject_on_worker_lost``) to the replacement process it starts. Returns the killed pid."""
    (child,) = children(process.pid)
    os.kill(child, signal.SIGKILL)
    return child


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what: str, log: list[str] | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = "".join((log or [])[-60:])
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")

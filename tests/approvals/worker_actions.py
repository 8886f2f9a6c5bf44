"""A test-only action for the worker-killed integration test.

Imported by the test process and by the Celery worker (``--include``). Its handler has an
external effect (a line in a file, deduplicated by execution key, like an ESP's
idempotency key) and a database effect (a timeline entry, in the executor's transaction),
and hangs while a marker file exists so that the test can kill the worker mid-execution.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rest_framework import serializers

from approvals.registry import Action, register

KEY = "tests.slow_effect"


class SlowEffectSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=50)


def _append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def slow_effect(req, payload: dict[str, Any]) -> dict[str, Any]:
    from hitl_crm.contacts.services import activity_record

    work = Path(os.environ["APPROVALS_TEST_DIR"])
    _append(work / "invocations.log", f"{os.getpid()} {req.execution_key}")
    effects = work / "effects.log"
    if req.execution_key not in (effects.read_text() if effects.exists() else ""):
        _append(effects, req.execution_key)
    activity_record(
        contact=req.subject,
        kind="system",
        summary=f"slow effect {payload['label']}",
        data={"execution_key": req.execution_key},
        source="test",
    )
    while (work / "hang").exists():  # the test kills the worker here
        time.sleep(0.05)
    return {"pid": os.getpid()}


if os.environ.get("APPROVALS_TEST_DIR"):  # inside the test's worker only
    # kombu sweeps unacknowledged Redis messages back to the queue every ~100 s by default;
    # sweep every second so the redelivery after the visibility timeout (5 s) is prompt.
    from hitl_crm.celery import app

    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

SLOW_EFFECT = register(
    Action(
        key=KEY,
        label="Slow effect (test)",
        serializer=SlowEffectSerializer,
        handler=slow_effect,
        template="approvals/actions/generic.html",
    )
)

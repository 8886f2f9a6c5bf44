from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from hitl_crm.web.models import WorkerHeartbeat

QUEUES = ("ai", "default", "dispatch")
STALE_AFTER = timedelta(minutes=3)


def worker_status() -> dict:
    """What the dashboard says about background work."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager", "queues": []}
    beats = {b.queue: b for b in WorkerHeartbeat.objects.filter(queue__in=QUEUES)}
    now = timezone.now()
    queues = [
        {
            "name": q,
            "seen_at": beats[q].seen_at if q in beats else None,
            "ok": q in beats and now - beats[q].seen_at < STALE_AFTER,
        }
        for q in QUEUES
    ]
    return {"mode": "broker", "queues": queues}

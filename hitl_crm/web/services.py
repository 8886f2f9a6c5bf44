from django.utils import timezone

from hitl_crm.web.models import WorkerHeartbeat


def worker_heartbeat_record(*, queue: str, hostname: str) -> WorkerHeartbeat:
    """Note that a worker consumed a task from ``queue`` just now."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue, defaults={"hostname": hostname, "seen_at": timezone.now()}
    )
    return beat

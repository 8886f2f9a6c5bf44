import socket

from celery import shared_task

from hitl_crm.web.services import worker_heartbeat_record


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat_task(self, queue: str) -> None:
    """Sent to each queue by beat (and by ``check_worker``); proves a worker consumes it."""
    hostname = getattr(self.request, "hostname", None) or socket.gethostname()
    worker_heartbeat_record(queue=queue, hostname=hostname)

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hitl_crm.web.models import WorkerHeartbeat
from hitl_crm.web.selectors import QUEUES
from hitl_crm.web.tasks import worker_heartbeat_task


class Command(BaseCommand):
    help = "Send a heartbeat task to each queue and wait until a worker has answered on every one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=15.0)
        parser.add_argument("--queues", default=",".join(QUEUES))

    def handle(self, *args, timeout: float, queues: str, **options) -> None:
        wanted = [q for q in queues.split(",") if q]
        started = timezone.now()
        for queue in wanted:
            worker_heartbeat_task.apply_async(args=[queue], queue=queue)
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        while time.monotonic() < deadline:
            answered = set(
                WorkerHeartbeat.objects.filter(queue__in=wanted, seen_at__gte=started).values_list("queue", flat=True)
            )
            if answered == set(wanted):
                break
            time.sleep(0.2)
        for queue in wanted:
            self.stdout.write(f"{queue:10} {'ok' if queue in answered else 'NO ANSWER'}")
        if answered != set(wanted):
            raise CommandError(f"No worker answered on: {', '.join(sorted(set(wanted) - answered))}")

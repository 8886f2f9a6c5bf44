from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker answered on a queue (see ``manage.py check_worker``)."""

    queue = models.CharField(max_length=50, unique=True)
    hostname = models.CharField(max_length=255)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue} @ {self.hostname}"

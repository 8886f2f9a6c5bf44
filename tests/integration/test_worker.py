import signal

import pytest
from django.core.management import call_command

from hitl_crm.web.models import WorkerHeartbeat
from hitl_crm.web.tasks import worker_heartbeat_task
from tests.celery_worker import broker_url_for_this_process, celery_worker, tasks_through_broker, wait_for

pytestmark = pytest.mark.integration


def test_a_real_worker_consumes_each_queue_and_writes_to_the_database(real_services):
    broker = broker_url_for_this_process()
    with celery_worker(broker_url=broker) as worker, tasks_through_broker(broker):
        # when: one task per queue goes through Redis to the worker subprocess
        for queue in ("ai", "default", "dispatch"):
            worker_heartbeat_task.apply_async(args=[queue], queue=queue)
        # then: the worker's database writes are visible here
        wait_for(
            lambda: WorkerHeartbeat.objects.count() == 3, timeout=20, what="a heartbeat per queue", log=worker.lines
        )
        assert set(WorkerHeartbeat.objects.values_list("queue", flat=True)) == {"ai", "default", "dispatch"}
        assert all(h.hostname.startswith("test-") for h in WorkerHeartbeat.objects.all())
    # and: the worker shut down cleanly (warm shutdown exits 0)
    assert worker.returncode == 0


def test_check_worker_command_reports_every_queue(real_services, capsys):
    broker = broker_url_for_this_process()
    with celery_worker(broker_url=broker), tasks_through_broker(broker):
        call_command("check_worker", "--timeout", "20")
    out = capsys.readouterr().out
    assert out.count(" ok") == 3


def test_check_worker_fails_loudly_when_no_worker_listens(real_services):
    from django.core.management.base import CommandError

    with tasks_through_broker(broker_url_for_this_process()), pytest.raises(CommandError, match="No worker answered"):
        call_command("check_worker", "--timeout", "1", "--queues", "ai")


def test_sigterm_lets_the_worker_exit_cleanly(real_services):
    broker = broker_url_for_this_process()
    with celery_worker(broker_url=broker) as worker:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0

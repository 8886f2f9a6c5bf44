"""A real Celery worker is SIGKILLed in the middle of a campaign batch; every contact still gets one email.

PostgreSQL + Redis + a worker subprocess writing each message as an .eml file (the file
backend), so that the messages of the killed process and of its replacement are counted in the
same place.
"""

from __future__ import annotations

from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from approvals.services import approval_decide
from marketing.models import Campaign, Send
from marketing.services import campaign_submit
from tests.celery_worker import (
    broker_url_for_this_process,
    celery_worker,
    children,
    kill_pool_child,
    tasks_through_broker,
    wait_for,
)
from tests.factories import ContactFactory
from tests.integration.conftest import real_services  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]
CONTACTS = 40


def recipients(folder: Path) -> Counter:
    parse = BytesParser(policy=policy.default).parsebytes
    return Counter(str(parse(path.read_bytes())["To"]) for path in folder.glob("*.eml"))


def test_a_worker_killed_mid_batch_leaves_every_contact_with_exactly_one_email(
    make_campaign,
    marketer,
    colleague,
    campaign_policy,
    everyone,
    tmp_path,
):
    # given: 40 reachable contacts (10 from the fixture + 30) and an approved-to-be campaign
    for i in range(CONTACTS - 10):
        ContactFactory(email=f"more{i}@customer.example")
    campaign = make_campaign(arms=2)
    req = campaign_submit(campaign=campaign, actor=marketer)
    assert req.final["audience_size"] == CONTACTS
    mail_dir = tmp_path / "mail"
    env = {"DJANGO_SETTINGS_MODULE": "tests.marketing.worker_settings", "EMAIL_FILE_PATH": str(mail_dir)}
    broker = broker_url_for_this_process()
    with celery_worker(broker_url=broker, queues="dispatch", extra_env=env, name="marketing") as worker:
        lines = worker.lines
        first_child = children(worker.pid)[0]
        # when: a colleague approves; execution and 4 batches of 10 go through Redis to the worker
        with tasks_through_broker(broker):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
        sent = Send.objects.filter(campaign=campaign, status=Send.Status.SENT)
        # the worker sends 10 messages a second; the moment the 15th is marked sent (half-way
        # through the second batch, while the worker waits for its next send slot) its child dies
        wait_for(lambda: sent.count() >= 15, timeout=90, interval=0.002, what="15 messages to be sent", log=lines)
        worker_child = kill_pool_child(worker)
        killed_at = sent.count()
        assert 10 < killed_at < 20, killed_at  # mid-batch
        # then: the pool replaces the child, the unacknowledged batch is redelivered and resumes
        wait_for(
            lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT,
            timeout=120,
            what="the campaign to finish after the restart",
            log=lines,
        )
        replacement = children(worker.pid)[0]
    assert worker_child == first_child
    assert replacement != worker_child
    assert any("signal 9" in line or "WorkerLostError" in line for line in lines), "".join(lines)
    # every contact got exactly one message, counted in the files both processes wrote
    counts = recipients(mail_dir)
    planned = set(Send.objects.filter(campaign=campaign).values_list("contact__email", flat=True))
    assert set(counts) == planned
    assert len(planned) == CONTACTS
    assert set(counts.values()) == {1}
    assert set(Send.objects.filter(campaign=campaign).values_list("status", flat=True)) == {Send.Status.SENT}


def test_a_worker_killed_while_the_smtp_server_holds_a_campaign_email_sends_each_contact_one(
    make_campaign, marketer, colleague, campaign_policy, everyone
):
    """The stronger kill: the process dies after the SMTP server received DATA, before it answered."""
    from hitl_crm.accounts.roles import MANAGER
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import delivery_mark_sent
    from tests.delivery.smtp import smtp_server
    from tests.factories import UserFactory

    # given: 20 reachable contacts, two batches of 10, an approved-to-be campaign
    for i in range(10):
        ContactFactory(email=f"more{i}@customer.example")
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    assert req.final["audience_size"] == 20
    broker = broker_url_for_this_process()
    with smtp_server(stall_at=5) as (smtp, port):
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.delivery.worker_settings_marketing",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "EMAIL_TIMEOUT": "120",
        }
        with celery_worker(broker_url=broker, queues="dispatch", extra_env=env, name="marketing-smtp") as worker:
            lines = worker.lines
            # when: approved; the fifth message reaches the server, which does not answer DATA
            with tasks_through_broker(broker):
                approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
            wait_for(lambda: smtp.count() == 5, timeout=90, interval=0.01, what="the fifth message's DATA", log=lines)
            in_flight = Send.objects.get(campaign=campaign, status=Send.Status.SENDING)
            killed = kill_pool_child(worker)
            smtp.stalling.clear()
            # then: the batch is redelivered to the new pool process and the campaign finishes
            wait_for(
                lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT,
                timeout=120,
                what="the campaign to finish after the kill",
                log=lines,
            )
            assert children(worker.pid) != [killed]
        received = Counter(smtp.headers("To"))
    planned = set(Send.objects.filter(campaign=campaign).values_list("contact__email", flat=True))
    print(f"campaign kill test: SMTP server received {sum(received.values())} for {len(planned)} contacts")  # noqa: T201
    # exactly one message per contact reached the server, the interrupted one included
    assert set(received) == planned
    assert set(received.values()) == {1}
    # the one the dead process was handing over is "possibly sent", for a person; the rest are sent
    statuses = Counter(Send.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {Send.Status.SENT: 19, Send.Status.INTERRUPTED: 1}
    unknown = Delivery.objects.get(state=Delivery.State.UNKNOWN)
    assert (unknown.kind, unknown.recipient) == ("campaign", in_flight.contact.email)
    # when: a manager checks and marks it as sent: nothing more goes out, the send counts as sent
    boss = UserFactory(username="boss", roles=[MANAGER])
    delivery_mark_sent(delivery_id=unknown.pk, actor=boss)  # its hook runs after commit (eagerly here)
    in_flight.refresh_from_db()
    assert in_flight.status == Send.Status.SENT
    assert sum(received.values()) == 20

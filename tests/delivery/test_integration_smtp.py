"""A real worker is SIGKILLed while a real SMTP server holds the approved email (DATA received, 250
not yet answered). The redelivered task must not send it again: the item becomes "possibly sent"
for a person, whose "send again" sends exactly one more message and whose "mark as sent" sends none.

PostgreSQL + Redis (this process's own database, see ``broker_url_for_this_process``) + a worker
subprocess + aiosmtpd on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import approval_decide, approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from hitl_crm.contacts.models import Activity
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import delivery_mark_sent, delivery_send_again
from tests.celery_worker import (
    broker_url_for_this_process,
    celery_worker,
    children,
    kill_pool_child,
    kill_worker,
    tasks_through_broker,
    wait_for,
)
from tests.delivery.smtp import smtp_server
from tests.factories import ContactFactory, UserFactory
from tests.integration.conftest import real_services  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]


def _env(port: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.delivery.worker_settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT": "120",  # the worker must still be waiting for the 250 when it dies
    }


def _status(req: ApprovalRequest) -> str:
    return ApprovalRequest.objects.values_list("status", flat=True).get(pk=req.pk)


def _delivery_state(req: ApprovalRequest) -> str | None:
    return Delivery.objects.filter(key=req.execution_key).values_list("state", flat=True).first()


@pytest.mark.parametrize("decision", ["send_again", "mark_sent"])
def test_a_worker_killed_while_the_smtp_server_holds_the_email_never_sends_it_twice(email_policy, decision):
    broker = broker_url_for_this_process()
    reviewer = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    boss = UserFactory(username="boss", roles=[MANAGER])
    contact = ContactFactory(email="dana@customer.example")
    proposal = {"to": contact.email, "subject": "Your order has shipped", "body": "Hi Dana,\nit left today."}
    req = approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal)
    seen: list[tuple[str, str | None]] = []

    with (
        smtp_server(stall_at=1) as (smtp, port),
        celery_worker(broker_url=broker, queues="dispatch", extra_env=_env(port), name="delivery") as worker,
    ):
        lines = worker.lines
        # when: the reviewer approves; the worker executes and hands the email to the server
        with tasks_through_broker(broker):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")
        wait_for(lambda: smtp.count() == 1, timeout=90, what="the server to receive DATA", log=lines)
        req.refresh_from_db()
        seen.append((_status(req), _delivery_state(req)))
        # the process sending it dies while the server has not answered yet
        killed = kill_pool_child(worker)
        wait_for(lambda: children(worker.pid) not in ([], [killed]), timeout=30, what="a new pool process", log=lines)
        smtp.stalling.clear()

        # then: the redelivered task runs in the new process; it does not send again, it asks a person
        wait_for(lambda: _status(req) == "failed", timeout=120, what="the redelivery", log=lines)
        req.refresh_from_db()
        seen.append((req.status, _delivery_state(req)))
        assert smtp.count() == 1
        assert req.error.startswith("Possibly sent — a person must decide")
        delivery = Delivery.objects.get(key=req.execution_key)
        assert delivery.state == Delivery.State.UNKNOWN

        # when: a manager decides
        with tasks_through_broker(broker):
            if decision == "send_again":
                delivery_send_again(delivery_id=delivery.pk, actor=boss)
            else:
                delivery_mark_sent(delivery_id=delivery.pk, actor=boss)
        wait_for(lambda: _status(req) == "executed", timeout=90, what="the decision to finish", log=lines)
        seen.append((_status(req), _delivery_state(req)))
        received = smtp.count()
        message_ids = smtp.headers("Message-ID")
    assert any("signal 9" in line or "WorkerLostError" in line for line in lines), "".join(lines)

    # then: "send again" sent exactly one more (same Message-ID), "mark as sent" sent nothing
    print(f"kill test ({decision}): SMTP server received {received}; states {seen}")  # noqa: T201 (report figure)
    assert seen[0] == ("executing", "sending")
    assert seen[1] == ("failed", "unknown")
    assert seen[2] == ("executed", "sent")
    assert received == (2 if decision == "send_again" else 1)
    assert set(message_ids) == {f"<{req.execution_key}@northwind.example>"}
    assert Activity.objects.filter(contact=contact, data__execution_key=req.execution_key).count() == 1
    verbs = list(AuditEvent.objects.filter(request=req).values_list("verb", flat=True))
    assert verbs.count("executed") == 1
    assert "claim_released" in verbs
    assert AuditEvent.objects.get(request=req, verb="delivery_resolved").actor == boss


def test_a_worker_killed_while_the_smtp_server_holds_an_approved_case_reply_never_sends_it_twice(
    desk, customer, receive, support_agent
):
    from service.handlers import reply_message_id
    from service.models import Message
    from service.routing import SEND_REPLY

    # given: a customer asks; the AI drafts a reply that waits for approval
    case = receive(customer.email, "Which jacket size?", "Small or medium for 1.70 m?").case
    req = ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")
    broker = broker_url_for_this_process()
    boss = UserFactory(username="boss", roles=[MANAGER])
    with (
        smtp_server(stall_at=1) as (smtp, port),
        celery_worker(broker_url=broker, queues="dispatch", extra_env=_env(port), name="delivery-reply") as worker,
    ):
        lines = worker.lines
        with tasks_through_broker(broker):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=support_agent, verdict="approve")
        wait_for(lambda: smtp.count() == 1, timeout=90, what="the server to receive DATA", log=lines)
        req.refresh_from_db()
        assert _delivery_state(req) == "sending"
        # when: the process sending the reply dies before the server answers
        kill_pool_child(worker)
        smtp.stalling.clear()
        wait_for(lambda: _status(req) == "failed", timeout=120, what="the redelivery", log=lines)
        # then: not sent again; a person sees "possibly sent"
        assert smtp.count() == 1
        delivery = Delivery.objects.get(key=req.execution_key)
        assert (delivery.kind, delivery.state) == ("reply", "unknown")
        assert not Message.objects.filter(execution_key=req.execution_key).exists()
        # when: the manager checks with the customer and marks it as sent
        with tasks_through_broker(broker):
            delivery_mark_sent(delivery_id=delivery.pk, actor=boss)
        wait_for(lambda: _status(req) == "executed", timeout=90, what="the bookkeeping", log=lines)
        received = smtp.headers("Message-ID")
    # then: the customer got the reply once, and the case records it once
    print(f"reply kill test: SMTP server received {len(received)}")  # noqa: T201 (report figure)
    assert received == [reply_message_id(req.execution_key)]
    assert Message.objects.filter(execution_key=req.execution_key, direction=Message.Direction.OUTBOUND).count() == 1


def test_a_whole_worker_killed_while_the_smtp_server_holds_the_email_is_not_sent_again_by_a_new_worker(email_policy):
    # given: an approved email the worker has handed to the server, which has not answered DATA yet
    broker = broker_url_for_this_process()
    reviewer = UserFactory(username="agent", roles=[SUPPORT_AGENT])
    contact = ContactFactory(email="eli@customer.example")
    proposal = {"to": contact.email, "subject": "Your refund", "body": "Hi Eli,\nthe refund is on its way."}
    req = approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal)
    with smtp_server(stall_at=1) as (smtp, port):
        with celery_worker(broker_url=broker, queues="dispatch", extra_env=_env(port), name="first") as first:
            with tasks_through_broker(broker):
                approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")
            wait_for(lambda: smtp.count() == 1, timeout=90, what="the server to receive DATA", log=first.lines)
            req.refresh_from_db()  # the execution key, given on approval
            assert _delivery_state(req) == "sending"
            # when: the machine dies — main process and pool child at once; nothing is acknowledged
            killed = kill_worker(first)
        smtp.stalling.clear()
        assert _status(req) == "executing"  # nobody is left to finish it

        # then: a NEW worker, on the same broker (not emptied), receives the redelivered task; it does
        # not send the email again, it asks a person
        with celery_worker(
            broker_url=broker, queues="dispatch", extra_env=_env(port), name="second", flush=False
        ) as second:
            wait_for(lambda: _status(req) == "failed", timeout=120, what="the redelivery", log=second.lines)
            assert children(second.pid) != killed
            received = smtp.headers("Message-ID")
    req.refresh_from_db()
    delivery = Delivery.objects.get(key=req.execution_key)
    print(f"whole-worker kill test: SMTP server received {len(received)}; delivery {delivery.state}")  # noqa: T201
    assert received == [f"<{req.execution_key}@northwind.example>"]  # exactly one message reached the server
    assert delivery.state == Delivery.State.UNKNOWN
    assert req.error.startswith("Possibly sent — a person must decide")

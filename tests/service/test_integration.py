"""The whole flow through Redis and a real Celery worker on PostgreSQL: inbound mail → pipeline on the
``ai`` queue → a draft in the review queue → approval → the reply sent by the worker, once. A second
delivery of the same inbound message changes nothing."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from django.core.management import call_command

from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from hitl_crm.ai.models import AiRun
from service.inbound import build
from service.models import Case, Message
from service.routing import SEND_REPLY
from service.services import inbound_message_receive
from service.tasks import message_pipeline_task
from tests.celery_worker import broker_url_for_this_process, celery_worker, tasks_through_broker, wait_for

pytestmark = pytest.mark.integration


def pending_reply(case_id: int) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(case_id), status="pending").first()


def sent_to(mail_dir, address: str) -> list:
    parsed = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(mail_dir.glob("*.eml"))]
    return [m for m in parsed if address in str(m["To"])]


def test_inbound_to_draft_to_sent_reply_through_the_broker_and_a_real_worker(real_services, roles, tmp_path):
    from service.demo import ARTICLES
    from service.routing import service_policies_ensure
    from service.services import knowledge_article_seed
    from tests.factories import ContactFactory, UserFactory

    # given: the desk as installed, a customer and an agent
    service_policies_ensure()
    for article in ARTICLES:
        knowledge_article_seed(published=True, **article)
    customer = ContactFactory(first_name="Olivia", email="olivia@trailhead.example")
    agent = UserFactory(username="agent", roles=["Support agent"])
    broker = broker_url_for_this_process()
    mail_dir = tmp_path / "mail"
    question = build(
        sender=customer.email,
        subject="Where is my order?",
        message_id="<int-1@mail.example>",
        body="Hi, I ordered two rain shells last week (order NW-20411) and the tracking page has not "
        "changed for four days. Where is my order?",
    )

    env = {"EMAIL_FILE_PATH": str(mail_dir), "HTTPS": "false"}
    with celery_worker(broker_url=broker, extra_env=env, name="service-flow") as worker, tasks_through_broker(broker):
        # when: the email arrives (the pipeline is queued on commit, to the ai queue)
        first = inbound_message_receive(mail=question)
        req = wait_for(
            lambda: pending_reply(first.case.pk), timeout=60, what="the draft in the review queue", log=worker.lines
        )

        # then: triaged, summarised and drafted by the worker
        case = Case.objects.get(pk=first.case.pk)
        assert case.intent == "track_order"
        assert "NW-20411" in case.facts["order_ids"]
        assert "tracking link" in req.final["body"]
        assert req.policy.name == "Service replies: routine"
        runs = AiRun.objects.count()

        # when: the same email is delivered again, and the pipeline task is redelivered too
        again = inbound_message_receive(mail=question)
        message_pipeline_task.delay(first.message.pk)
        # … a later, unrelated message on the same queue tells us the redelivered task has run
        marker = inbound_message_receive(
            mail=build(sender="kwame@newcustomer.example", subject="Sizing", body="What size boots should I order?")
        )
        wait_for(lambda: pending_reply(marker.case.pk), timeout=60, what="the marker's draft", log=worker.lines)

        # then: nothing changed for the first message
        assert again.outcome == "duplicate"
        assert again.message == first.message
        assert Message.objects.filter(case=case).count() == 1
        assert ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(case.pk)).count() == 1
        assert AiRun.objects.count() == runs + 3  # the marker's triage, summary, draft — none for a repeat

        # when: the agent approves; the worker's executor sends the reply
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
        wait_for(
            lambda: ApprovalRequest.objects.get(pk=req.pk).status == "executed",
            timeout=60,
            what="the reply to be sent",
            log=worker.lines,
        )

    # then: one threaded email written by the worker's mail backend, and the outbound message recorded
    to_customer = sent_to(mail_dir, customer.email)
    assert len(to_customer) == 1
    assert to_customer[0]["In-Reply-To"] == "<int-1@mail.example>"
    assert to_customer[0]["Message-ID"] == f"<{ApprovalRequest.objects.get(pk=req.pk).execution_key}@northwind.example>"
    assert Message.objects.filter(case=case, direction="out").count() == 1


def test_ingest_mail_queues_the_pipeline_through_the_broker(real_services, roles, tmp_path):
    # A lean check that the command publishes (rather than runs eagerly) when a broker is configured.
    from service.routing import service_policies_ensure

    service_policies_ensure()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "1.eml").write_bytes(
        b"From: Ada <ada@customer.example>\r\nTo: support@northwind.example\r\nSubject: Boot sizing\r\n"
        b"Message-ID: <ingest-1@customer.example>\r\n\r\nWhich boot size fits a 9.5?\r\n"
    )
    broker = broker_url_for_this_process()
    env = {"EMAIL_FILE_PATH": str(tmp_path / "mail")}
    with celery_worker(broker_url=broker, extra_env=env, name="service-ingest") as worker, tasks_through_broker(broker):
        call_command("ingest_mail", str(tmp_path / "in"), stdout=open("/dev/null", "w"))  # noqa: SIM115
        case = Case.objects.get(contact__email="ada@customer.example")
        wait_for(lambda: pending_reply(case.pk), timeout=60, what="the ingested message's draft", log=worker.lines)
    assert Message.objects.get(case=case).processed_at is not None


@pytest.mark.parametrize(
    ("marker", "engine_bounds", "skill", "reason"),
    [
        ("LONG-INTENT", True, "triage", "Triage failed (The triage output does not match its schema"),
        (
            "LONG-INTENT",
            False,
            "triage",
            "The AI's triage could not be used (value too long for type character varying",
        ),
        ("LONG-DRAFT", True, "draft_reply", "The AI could not draft a reply (The draft_reply output"),
        ("LONG-DRAFT", False, "draft_reply", "The AI's draft reply could not be used ("),
    ],
)
def test_bad_ai_output_on_postgresql_keeps_the_run_flags_the_case_and_the_batch_goes_on(
    real_services, roles, tmp_path, monkeypatch, marker, engine_bounds, skill, reason
):
    # PostgreSQL enforces column lengths (SQLite does not): with the engine's bounds switched off, a
    # 310-character intent reaches the 80-character column and raises DataError; the over-long draft
    # reaches the approval's payload validator. Either way: run kept, case to a person, batch goes on.
    from service.demo import ARTICLES
    from service.routing import service_policies_ensure
    from service.services import knowledge_article_seed
    from tests.service.test_inbound import eml
    from tests.service.test_pipeline import RECORDING

    service_policies_ensure()
    for article in ARTICLES:
        knowledge_article_seed(published=True, **article)
    if not engine_bounds:
        monkeypatch.setattr("hitl_crm.ai.engine.bounds_errors", lambda skill, output: [])
    senders = ["ada@one.example", "bo@two.example", "cy@three.example"]
    for n, sender in enumerate(senders, start=1):
        body = f"{marker if n == 2 else ''} Where is order NW-1000{n}?".strip()
        (tmp_path / f"{n}.eml").write_bytes(eml(sender=sender, body=body, Message_ID=f"<pg-{n}@mail.example>"))

    with RECORDING:
        call_command("ingest_mail", str(tmp_path), stdout=open("/dev/null", "w"))  # noqa: SIM115

    bad = Case.objects.get(contact__email="bo@two.example")
    assert bad.needs_human
    assert reason in bad.needs_human_reason
    assert AiRun.objects.get(skill=skill, subject_id=str(bad.pk)).status == AiRun.Status.INVALID
    assert Message.objects.get(case=bad).processed_at is not None
    assert not pending_reply(bad.pk)
    for sender in (senders[0], senders[2]):
        case = Case.objects.get(contact__email=sender)
        assert pending_reply(case.pk) is not None
        assert not case.needs_human

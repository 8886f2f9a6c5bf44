"""End to end on eager Celery: an inbound email becomes a triaged, summarised case with a grounded
draft waiting for approval; approving sends exactly one threaded email; rejecting sends nothing."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings

from approvals.models import ApprovalRequest
from approvals.services import approval_decide, approval_execute
from hitl_crm.ai.models import AiRun
from hitl_crm.contacts.models import Activity
from service.models import Case, KnowledgeArticle, Message
from service.routing import SEND_REPLY
from service.services import message_pipeline_run
from service.tasks import message_pipeline_task
from tests.service.conftest import customer_mail

pytestmark = pytest.mark.django_db

WHERE_IS_MY_ORDER = (
    "Hi, I ordered two rain shells last week (order NW-20411) and the tracking page has not changed for four "
    "days. Where is my order?"
)


def _reply_request(case: Case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")


def test_an_inbound_email_becomes_a_triaged_case_with_a_grounded_draft_waiting_for_approval(desk, customer, receive):
    # when
    result = receive(
        "Olivia Andersen <olivia@trailhead.example>",
        "Where is my order?",
        WHERE_IS_MY_ORDER,
        message_id="<m1@mail.trailhead.example>",
    )

    # then: a case for the existing contact, triaged and summarised, with the order number as a fact
    case = Case.objects.get(pk=result.case.pk)
    assert result.outcome == "created"
    assert case.contact == customer
    assert case.intent == "track_order"
    assert case.risk == "low"
    assert "NW-20411" in case.facts["order_ids"]
    assert "tracking page has not changed" in case.summary
    assert case.summary_version == case.thread_version == 1
    assert KnowledgeArticle.objects.get(pk=case.suggested_article_ids[0]).title == "Delivery times and tracking"
    # … a grounded draft that cites the tracking article, waiting for a support agent
    req = _reply_request(case)
    assert req.proposal["to"] == "olivia@trailhead.example"
    assert req.proposal["in_reply_to"] == "<m1@mail.trailhead.example>"
    assert "tracking link" in req.proposal["body"]
    assert req.ai_run.skill == "draft_reply"
    assert [s["title"] for s in req.ai_run.output["sources"]][0] == "Delivery times and tracking"
    assert req.policy.name == "Service replies: routine"
    assert req.required_approvals == 1
    assert not case.needs_human
    # … and nothing has gone to the customer
    assert customer_mail("olivia@trailhead.example") == []
    # the pipeline's provenance: one run per skill, about this case
    assert sorted(AiRun.objects.filter(subject_id=str(case.pk)).values_list("skill", flat=True)) == [
        "draft_reply",
        "summarize",
        "triage",
    ]


def test_approving_sends_one_threaded_email_and_records_it(desk, customer, receive, support_agent, run_on_commit):
    # given: a customer wrote twice in one thread (References carry the first message)
    receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER, message_id="<m1@mail.trailhead.example>")
    second = receive(
        customer.email,
        "Re: Where is my order?",
        "Any news? It's for a trip on Saturday.",
        message_id="<m2@mail.trailhead.example>",
        in_reply_to="<m1@mail.trailhead.example>",
        references="<m1@mail.trailhead.example>",
    )
    case = second.case
    req = _reply_request(case)
    mail.outbox.clear()

    # when: the agent approves the draft with an edit
    with run_on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="approve",
            edits={"body": req.final["body"] + "\n\nPS: I've asked the carrier to check."},
        )

    # then: exactly one email to the customer, threaded into their conversation
    sent = customer_mail(customer.email)
    assert len(sent) == 1
    email = sent[0]
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.EXECUTED
    assert email.extra_headers["In-Reply-To"] == "<m2@mail.trailhead.example>"
    assert email.extra_headers["References"] == "<m1@mail.trailhead.example> <m2@mail.trailhead.example>"
    assert email.extra_headers["Message-ID"] == f"<{req.execution_key}@northwind.example>"
    assert email.subject == "Re: Where is my order?"
    assert email.body.endswith("PS: I've asked the carrier to check.")
    # … recorded on the case as an outbound message and on the customer's timeline
    outbound = Message.objects.get(case=case, direction="out")
    assert outbound.message_id == email.extra_headers["Message-ID"]
    assert outbound.body == email.body
    assert outbound.author == support_agent
    assert outbound.reply_to.message_id == "<m2@mail.trailhead.example>"
    activity = Activity.objects.get(contact=customer, kind=Activity.Kind.EMAIL_OUT)
    assert activity.summary == "Reply sent: Re: Where is my order?"
    assert activity.data["message"] == outbound.pk
    case.refresh_from_db()
    assert case.status == Case.Status.PENDING_CUSTOMER
    assert case.waiting_since is None
    assert case.first_response_at is not None
    # the summary caught up with the reply (refreshed after the send)
    assert case.summary_version == case.thread_version == 3

    # when: the executor runs again for the same approval (a redelivered task)
    approval_execute(request_id=req.pk)

    # then: still one email, one outbound message
    assert len(customer_mail(customer.email)) == 1
    assert Message.objects.filter(case=case, direction="out").count() == 1


def test_rejecting_sends_nothing_and_hands_the_case_to_a_person(desk, customer, receive, support_agent, run_on_commit):
    # given
    case = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER).case
    req = _reply_request(case)
    mail.outbox.clear()

    # when
    with run_on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="reject",
            reason="wrong_facts",
        )

    # then
    assert customer_mail(customer.email) == []
    assert not Message.objects.filter(case=case, direction="out").exists()
    case.refresh_from_db()
    assert case.needs_human
    assert "rejected the draft" in case.needs_human_reason


def test_a_redelivered_pipeline_task_changes_nothing(desk, customer, receive):
    # given: the pipeline has run for the message
    result = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER)
    before = (ApprovalRequest.objects.count(), AiRun.objects.count())

    # when: the broker delivers the task again
    outcome = message_pipeline_task.apply(args=[result.message.pk]).get()

    # then
    assert outcome == "already processed"
    assert (ApprovalRequest.objects.count(), AiRun.objects.count()) == before


def test_the_same_email_delivered_twice_is_one_message(desk, customer, receive):
    first = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER, message_id="<dup@x.example>")
    again = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER, message_id="<dup@x.example>")

    assert again.outcome == "duplicate"
    assert again.message == first.message
    assert Message.objects.count() == 1
    assert ApprovalRequest.objects.filter(action=SEND_REPLY).count() == 1


def test_a_new_customer_message_replaces_the_pending_draft(desk, customer, receive):
    # given: a draft is waiting
    first = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER, message_id="<m1@x.example>")
    old = _reply_request(first.case)

    # when: the customer writes again before anyone approved it
    receive(
        customer.email,
        "Re: Where is my order?",
        "Also, can I change the delivery address to my office?",
        message_id="<m2@x.example>",
        in_reply_to="<m1@x.example>",
    )

    # then: the old draft is cancelled, a fresh one answers the latest message
    old.refresh_from_db()
    assert old.status == ApprovalRequest.Status.CANCELLED
    fresh = _reply_request(first.case)
    assert fresh.proposal["in_reply_to"] == "<m2@x.example>"
    assert fresh.proposal["references"] == "<m1@x.example> <m2@x.example>"


def test_an_approval_made_before_the_customer_wrote_again_is_not_sent(desk, customer, receive, support_agent):
    # given: a draft approved, but its execution has not run yet (the worker is busy)
    first = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER, message_id="<m1@x.example>")
    req = _reply_request(first.case)
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=support_agent,
        verdict="approve",
    )  # on_commit not run

    # when: the customer writes again, then the execution runs
    receive(customer.email, "Re: Where is my order?", "Never mind, it just arrived!", in_reply_to="<m1@x.example>")
    approval_execute(request_id=req.pk)

    # then: the stale reply never went out
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.CANCELLED
    assert customer_mail(customer.email) == []


@override_settings(
    HITL_CRM_AI={
        "default": {
            "backend": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "model": "m",
            "api_key_env": "HITL_TEST_NO_KEY",
            "timeout": 0.2,
            "max_retries": 0,
        }
    }
)
def test_when_the_ai_fails_the_message_is_kept_and_the_case_needs_a_person(desk, customer, receive, monkeypatch):
    # given: the AI backend is unreachable (nothing listens on port 9)
    monkeypatch.setenv("HITL_TEST_NO_KEY", "sk-test-not-a-real-key")

    # when
    result = receive(customer.email, "Where is my order?", WHERE_IS_MY_ORDER)

    # then: the message is stored, no draft exists, the case waits for a person with the reason
    case = Case.objects.get(pk=result.case.pk)
    assert Message.objects.filter(case=case, direction="in").count() == 1
    assert not ApprovalRequest.objects.filter(action=SEND_REPLY).exists()
    assert case.needs_human
    assert "Triage failed" in case.needs_human_reason
    assert Message.objects.get(pk=result.message.pk).processed_at is not None


def test_unknown_senders_become_contacts(desk, receive):
    result = receive("Kwame Mensah <Kwame@NewCustomer.example>", "Sizing", "What size boots should I order?")

    contact = result.case.contact
    assert (contact.email, contact.first_name, contact.last_name) == ("kwame@newcustomer.example", "Kwame", "Mensah")
    assert Activity.objects.filter(contact=contact, kind=Activity.Kind.EMAIL_IN).count() == 1


def test_a_pipeline_run_for_an_overtaken_message_leaves_the_work_to_the_newer_one(
    desk, customer, django_capture_on_commit_callbacks
):
    from service.inbound import build
    from service.services import inbound_message_receive

    # given: two messages stored before any pipeline ran (the worker was down)
    with django_capture_on_commit_callbacks(execute=False):
        first = inbound_message_receive(
            mail=build(sender=customer.email, subject="Order", body=WHERE_IS_MY_ORDER, message_id="<a@x.example>")
        )
        second = inbound_message_receive(
            mail=build(
                sender=customer.email,
                subject="Re: Order",
                body="Also: can I change the delivery address?",
                message_id="<b@x.example>",
                in_reply_to="<a@x.example>",
            )
        )

    # when: the tasks run in delivery order
    assert message_pipeline_run(message_id=first.message.pk) == "superseded"
    assert message_pipeline_run(message_id=second.message.pk) == "drafted"

    # then: one draft, which answers the latest message and saw both
    req = _reply_request(second.case)
    assert req.proposal["in_reply_to"] == "<b@x.example>"
    assert "tracking page" in req.ai_run.input_redacted["customer_text"]
    assert ApprovalRequest.objects.filter(action=SEND_REPLY).count() == 1


def test_the_sweeper_requeues_messages_the_pipeline_never_saw(desk, customer, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from service.inbound import build
    from service.services import inbound_message_receive, message_pipeline_sweep

    # given: a message stored while the broker was down (its task never ran)
    with django_capture_on_commit_callbacks(execute=False):
        stored = inbound_message_receive(mail=build(sender=customer.email, subject="Order", body=WHERE_IS_MY_ORDER))
    Message.objects.filter(pk=stored.message.pk).update(created_at=stored.message.created_at - timedelta(hours=1))

    # when
    with django_capture_on_commit_callbacks(execute=True):
        queued = message_pipeline_sweep(older_than=timedelta(minutes=10))

    # then: it was processed, and a second sweep finds nothing
    assert queued == 1
    assert Message.objects.get(pk=stored.message.pk).processed_at is not None
    assert _reply_request(stored.case).proposal["in_reply_to"] == stored.message.message_id
    assert message_pipeline_sweep(older_than=timedelta(minutes=10)) == 0

"""The pipeline's steps one by one, and what happens when the AI's output is bad or the thread moves
while the AI works: the AI's record is kept, the case goes to a person with the reason, and results
are never applied to a newer thread than the one the AI read."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F
from django.test import override_settings
from django.urls import reverse

from approvals.models import ApprovalRequest
from hitl_crm.ai.engine import run
from hitl_crm.ai.models import AiRun
from hitl_crm.ai.skills import get_skill
from hitl_crm.contacts.services import activity_record
from service.inbound import build
from service.models import Case, Message, RefundRequest
from service.pipeline import (
    pipeline_draft,
    pipeline_knowledge,
    pipeline_refund,
    pipeline_snapshot,
    pipeline_triage,
)
from service.routing import ISSUE_REFUND, RISKY_REPLIES, SEND_REPLY
from service.services import inbound_message_receive, message_pipeline_run
from tests.fakes import FakeBackend, dotted, fake_ai_reset

pytestmark = pytest.mark.django_db

LONG_INTENT = "complaint_" + "x" * 300
LONG_DRAFT = "Thank you for writing. " * 1500  # 34,500 characters: more than an approval accepts


class OverlongBackend(FakeBackend):
    """The shared fake (recording each call, offline answers unless scripted); a message containing
    ``LONG-INTENT`` or ``LONG-DRAFT`` gets the out-of-bounds answer a misbehaving language model might
    give. A fixed behaviour, so other modules (and other processes) can use it through ``RECORDING``."""

    name = "overlong"

    def answer(self, skill: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        output = super().answer(skill, inputs)
        text = str(inputs.get("text") or inputs.get("customer_text") or "")
        if skill.name == "triage" and "LONG-INTENT" in text:
            output = {**output, "intent": LONG_INTENT}
        if skill.name == "draft_reply" and "LONG-DRAFT" in text:
            output = {**output, "body": LONG_DRAFT}
        return output


RECORDING = override_settings(HITL_CRM_AI={"default": {"backend": dotted(OverlongBackend)}})
#: Every backend call: skill, inputs, and whether a transaction was open at that moment.
CALLS = FakeBackend.calls


def meanwhile(skill: str, happens: Callable[[dict[str, Any]], object]) -> None:
    """The next time ``skill`` is called, ``happens`` runs first ("meanwhile, elsewhere…"); once."""
    offline = get_skill(skill).offline

    def once(inputs: dict[str, Any]) -> dict[str, Any]:
        FakeBackend.answers.pop(skill, None)
        happens(inputs)
        return offline(inputs)

    FakeBackend.answers[skill] = once


@pytest.fixture(autouse=True)
def _clean_recording():
    fake_ai_reset()
    yield
    fake_ai_reset()


def _store(customer, body: str, *, subject: str = "Where is my order?", **fields) -> Message:
    """A customer message stored with its pipeline task not yet run (as when the worker is busy)."""
    result = inbound_message_receive(mail=build(sender=customer.email, subject=subject, body=body, **fields))
    return result.message


def _reply(case: Case) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(case.pk), status="pending").first()


# --- bounds on the AI's output ------------------------------------------------------------------


@RECORDING
def test_an_intent_longer_than_a_label_is_an_invalid_run_with_the_reason(customer):
    # when
    result = run("triage", {"text": "LONG-INTENT where is my parcel"})

    # then: not used, not cut: a failed result whose record says why and keeps what the AI said
    assert not result.ok
    saved = AiRun.objects.get(pk=result.run.pk)
    assert saved.status == AiRun.Status.INVALID
    assert "$.intent: must have at most 80 characters" in saved.error
    assert LONG_INTENT in saved.output["raw"]


@RECORDING
def test_an_over_long_intent_hands_the_case_to_a_person_and_keeps_the_run(desk, customer, receive):
    # when
    case = receive(customer.email, "Parcel", "LONG-INTENT My parcel NW-20411 has not arrived.").case

    # then
    case.refresh_from_db()
    assert case.intent == ""
    assert case.needs_human
    assert "Triage failed" in case.needs_human_reason
    assert "at most 80 characters" in case.needs_human_reason
    run_ = AiRun.objects.get(skill="triage", subject_id=str(case.pk))
    assert run_.status == AiRun.Status.INVALID
    assert Message.objects.get(case=case).processed_at is not None


@RECORDING
def test_an_over_long_draft_is_an_invalid_run_and_the_case_goes_to_a_person(desk, customer, receive):
    # when
    case = receive(customer.email, "Where is my order?", "LONG-DRAFT Where is order NW-20411?").case

    # then: triage and summary applied, no draft waiting, the draft's run says why
    case.refresh_from_db()
    assert case.intent == "track_order"
    assert _reply(case) is None
    assert case.needs_human
    assert "could not draft a reply" in case.needs_human_reason
    draft = AiRun.objects.get(skill="draft_reply", subject_id=str(case.pk))
    assert draft.status == AiRun.Status.INVALID
    assert "$.body: must have at most 20000 characters" in draft.error


@RECORDING
def test_a_draft_an_approval_refuses_keeps_every_run_and_flags_the_case(desk, customer, receive, monkeypatch):
    # given: the engine's bounds are not there (a skill or a payload bound out of step with the other)
    monkeypatch.setattr("hitl_crm.ai.engine.bounds_errors", lambda skill, output: [])

    # when: the approval refuses the 34,500-character draft (it used to roll everything back and raise)
    case = receive(customer.email, "Where is my order?", "LONG-DRAFT Where is order NW-20411?").case

    # then: every run is kept, the draft's marked invalid with the approval's reason
    runs = dict(AiRun.objects.filter(subject_id=str(case.pk)).values_list("skill", "status"))
    assert runs == {"triage": "ok", "summarize": "ok", "draft_reply": "invalid"}
    assert "body" in AiRun.objects.get(skill="draft_reply").error
    # … the case waits for a person, who sees why on the case page and in the "needs a person" list
    case.refresh_from_db()
    assert case.needs_human
    assert case.needs_human_reason.startswith("The AI's draft reply could not be used (")
    assert "pipeline_failed" in {f["code"] for f in case.flags}
    assert _reply(case) is None
    message = Message.objects.get(case=case)
    assert message.processed_at is not None
    assert "failed (draft reply)" in message.pipeline_note


def test_the_needs_a_person_list_shows_why_the_pipeline_gave_up(client, desk, customer, receive, support_agent):
    with RECORDING, pytest.MonkeyPatch.context() as patch:
        patch.setattr("hitl_crm.ai.engine.bounds_errors", lambda skill, output: [])
        case = receive(customer.email, "Where is my order?", "LONG-DRAFT Where is order NW-20411?").case
    client.force_login(support_agent)

    listing = client.get(reverse("service:needs_human")).content.decode()
    page = client.get(case.get_absolute_url()).content.decode()

    assert "The AI&#x27;s draft reply could not be used" in listing
    assert "The AI&#x27;s draft reply could not be used" in page


# --- no network call with a transaction open; results only for the thread the AI read -----------------


@RECORDING
@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_the_ai_works(desk, customer):
    # when: a message arrives and its pipeline runs after commit, as in production
    result = inbound_message_receive(
        mail=build(sender=customer.email, subject="Where is my order?", body="Where is order NW-20411?")
    )

    # then: every skill ran with no transaction (hence no row lock) open, and the draft is waiting
    assert [c["skill"] for c in CALLS] == ["triage", "summarize", "draft_reply"]
    assert [c["in_atomic_block"] for c in CALLS] == [False, False, False]
    assert _reply(result.case) is not None


@RECORDING
def test_a_customer_message_arriving_while_the_ai_works_is_not_answered_by_stale_results(
    desk, customer, django_capture_on_commit_callbacks
):
    # given: a stored message; while the AI drafts its reply, the customer writes again
    with django_capture_on_commit_callbacks(execute=False):
        first = _store(customer, "Where is order NW-20411?", message_id="<a@x.example>")

        def customer_writes_again(_inputs):
            _store(
                customer,
                "Also: please deliver it to my office instead.",
                subject="Re: Where is my order?",
                message_id="<b@x.example>",
                in_reply_to="<a@x.example>",
            )

        meanwhile("draft_reply", customer_writes_again)

        # when
        outcome = message_pipeline_run(message_id=first.pk)

    # then: nothing of the stale run was applied; the newer message's run answers both
    assert outcome == "superseded"
    case = Case.objects.get(pk=first.case_id)
    assert case.intent == ""
    assert _reply(case) is None
    assert Message.objects.get(pk=first.pk).processed_at is None
    second = Message.objects.get(message_id="<b@x.example>")
    assert message_pipeline_run(message_id=second.pk) == "drafted"
    req = _reply(case)
    assert req.proposal["in_reply_to"] == "<b@x.example>"
    assert "NW-20411" in req.ai_run.input_redacted["customer_text"]
    assert set(Message.objects.filter(case=case).values_list("processed_at", flat=True)) != {None}
    assert AiRun.objects.filter(skill="draft_reply", subject_id=str(case.pk)).count() == 2  # both kept


@RECORDING
def test_when_our_side_of_the_thread_moved_the_steps_run_again(desk, customer, django_capture_on_commit_callbacks):
    # given: while the AI drafts, a reply goes out on the case (the thread version moves, no new ask)
    with django_capture_on_commit_callbacks(execute=False):
        first = _store(customer, "Where is order NW-20411?")
    meanwhile(
        "draft_reply",
        lambda _inputs: Case.objects.filter(pk=first.case_id).update(thread_version=F("thread_version") + 1),
    )

    # when
    outcome = message_pipeline_run(message_id=first.pk)

    # then: read again and applied to the new version, once
    assert outcome == "drafted"
    case = Case.objects.get(pk=first.case_id)
    assert case.summary_version == case.thread_version == 2
    assert [c["skill"] for c in CALLS] == ["triage", "summarize", "draft_reply"] * 2
    assert ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(case.pk)).count() == 1


# --- the steps, one at a time -----------------------------------------------------------------------


def test_the_snapshot_says_when_there_is_nothing_to_do(desk, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = _store(customer, "Where is order NW-20411?", message_id="<a@x.example>")
        second = _store(customer, "Any news?", subject="Re: Where is my order?", in_reply_to="<a@x.example>")

    assert pipeline_snapshot(message_id=first.pk) == "superseded"
    assert pipeline_snapshot(message_id=10**9) == "gone"
    snap = pipeline_snapshot(message_id=second.pk)
    assert [m.pk for m in snap.pending] == [first.pk, second.pk]
    assert snap.version == 2
    assert "NW-20411" in snap.thread_text
    assert "Any news?" in snap.thread_text


def test_triage_knowledge_and_draft_steps_alone(desk, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = _store(customer, "Hi, the tracking page for order NW-20411 has not changed. Where is my order?")
    snap = pipeline_snapshot(message_id=message.pk)

    triage = pipeline_triage(snap)
    articles = pipeline_knowledge(snap)
    draft = pipeline_draft(snap, triage, articles)

    assert (triage.ok, triage.intent) == (True, "track_order")
    assert articles[0].title == "Delivery times and tracking"
    assert draft.ok
    assert "tracking" in draft.output["body"]
    # the steps changed nothing on the case: only ``route`` writes
    case = Case.objects.get(pk=message.case_id)
    assert (case.intent, case.summary) == ("", "")


def test_the_draft_reads_the_whole_thread_not_only_the_newest_message(desk, customer, receive):
    receive(
        customer.email, "Where is my order?", "My rain shells (order NW-20411) have not arrived.", message_id="<a@x>"
    )
    case = receive(customer.email, "Re: Where is my order?", "Any news?", in_reply_to="<a@x>").case

    seen = _reply(case).ai_run.input_redacted["customer_text"]

    assert "rain shells" in seen
    assert "Any news?" in seen


# --- refunds read from the thread ---------------------------------------------------------------------


def test_a_later_rather_than_a_refund_proposes_no_refund(desk, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = _store(customer, "The tent from order NW-40012 is torn, I want a refund of $240.", message_id="<a@x>")
        second = _store(
            customer,
            "Thinking about it, rather than a refund please send a new fly sheet.",
            subject="Re: Where is my order?",
            in_reply_to="<a@x>",
        )
    snap = pipeline_snapshot(message_id=second.pk)

    plan = pipeline_refund(snap, pipeline_triage(snap))

    assert first.pk in [m.pk for m in snap.pending]
    assert not plan.reading.asked
    assert plan.recommendation is None
    assert message_pipeline_run(message_id=second.pk) == "drafted"
    assert not RefundRequest.objects.exists()


def test_an_ask_in_quoted_mail_proposes_no_refund(desk, customer, receive):
    case = receive(
        customer.email,
        "Re: Where is my order?",
        "It arrived, thanks!\n\nOn Thu, Nov 19, 2026, Olivia Andersen <olivia@trailhead.example> wrote:\n"
        "I want a refund of $300 for order NW-50231.\n",
    ).case

    assert not RefundRequest.objects.filter(case=case).exists()


def test_a_5000_refund_for_an_order_the_crm_does_not_know_is_high_risk_and_not_routine(
    desk, customer, receive, manager
):
    # given: the CRM knows one order of this customer, not the one she names
    activity_record(contact=customer, kind="purchase", summary="Ordered a tent", data={"order_ref": "NW-40012"})

    # when
    case = receive(customer.email, "Refund", "Order NW-99999 from 3 days ago never arrived. Refund me $5,000 now.").case

    # then: the refund is high risk and says why; the reply goes to a manager, not the routine queue
    refund_req = ApprovalRequest.objects.get(action=ISSUE_REFUND)
    assert refund_req.risk == "high"
    unknown = next(f for f in refund_req.flags if f["code"] == "refund_order_unknown")
    assert unknown["severity"] == "high"
    assert "Order NW-99999 is not on record in the CRM" in unknown["message"]
    reply = _reply(case)
    assert reply.risk == "high"
    assert reply.policy.name == RISKY_REPLIES
    assert "refund_order_unknown" in {f["code"] for f in reply.flags}
    case.refresh_from_db()
    assert case.needs_human
    assert "NW-99999 is not on record" in case.needs_human_reason


def test_a_refund_for_an_order_on_record_follows_the_policy(desk, customer, receive):
    activity_record(contact=customer, kind="purchase", summary="Ordered a lamp", data={"order_ref": "NW-88120"})

    receive(customer.email, "Lamp", "The lamp from order NW-88120 (3 days ago) flickers. I want my $189.99 back.")

    refund = RefundRequest.objects.get()
    assert (refund.amount, refund.order_ref, refund.recommendation) == (Decimal("189.99"), "NW-88120", "approve")
    assert "Order: NW-88120 (on record)." in refund.rationale


@RECORDING
def test_a_summary_refresh_never_overwrites_a_newer_thread(desk, customer, django_capture_on_commit_callbacks):
    from service.services import case_summary_refresh

    # given: a case whose summary is behind its thread; while the AI summarises, another message lands
    with django_capture_on_commit_callbacks(execute=False):
        message = _store(customer, "Where is order NW-20411?")
    meanwhile(
        "summarize",
        lambda _inputs: Case.objects.filter(pk=message.case_id).update(thread_version=F("thread_version") + 1),
    )

    # when / then: the stale summary is not stored; the next refresh brings it to the new version
    assert case_summary_refresh(case_id=message.case_id) is False
    assert Case.objects.get(pk=message.case_id).summary_version == 0
    assert case_summary_refresh(case_id=message.case_id) is True
    case = Case.objects.get(pk=message.case_id)
    assert case.summary_version == case.thread_version == 2
    assert "NW-20411" in case.summary


def test_taking_back_a_refund_that_waits_for_approval_tells_the_reviewer(desk, customer, receive):
    # given: a refund proposed for the customer's ask
    activity_record(contact=customer, kind="purchase", summary="Ordered a tent", data={"order_ref": "NW-40012"})
    first = receive(customer.email, "Torn tent", "Order NW-40012 from 3 days ago is torn. Please refund the $240.")
    assert RefundRequest.objects.get(case=first.case).status == RefundRequest.Status.PROPOSED

    # when: she changes her mind
    case = receive(
        customer.email,
        "Re: Torn tent",
        "Actually, rather than a refund, please send a new fly sheet.",
        in_reply_to=first.message.message_id,
    ).case

    # then: no second refund; the new draft and the case say the waiting refund is no longer wanted
    assert RefundRequest.objects.filter(case=case).count() == 1
    assert "refund_withdrawn" in {f["code"] for f in _reply(case).flags}
    case.refresh_from_db()
    assert case.needs_human
    assert "no longer asks for the refund" in case.needs_human_reason

"""AI follow-ups reach a lead only through an approval, exactly as approved, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.exceptions import AlreadyOpen, NotAllowed
from approvals.models import ApprovalRequest
from approvals.services import approval_decide, approval_execute
from hitl_crm.accounts.roles import SALES_REP
from hitl_crm.ai.models import AiRun
from hitl_crm.contacts.models import Activity
from leads.followups import SEND_FOLLOWUP
from leads.models import LeadEvent
from leads.selectors import followup_acceptance, lead_followups
from leads.services import lead_followup_draft, lead_followup_submit, lead_update
from tests.factories import ContactFactory
from tests.fakes import DownBackend, route_skills
from tests.leads.factories import LeadEventFactory, LeadFactory

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status


@pytest.fixture
def colleague(make_user):
    return make_user(SALES_REP, username="colleague", first_name="Cleo", last_name="Park")


@pytest.fixture
def lead(sales_rep, followup_policy):
    sales_rep.first_name, sales_rep.last_name = "Rita", "Rep"
    sales_rep.save()
    contact = ContactFactory(email="dana@northpeak.example", first_name="Dana", last_name="Ng")
    lead = LeadFactory(
        first_name="Dana",
        last_name="Ng",
        email="dana@northpeak.example",
        company="North Peak",
        owner=sales_rep,
        contact=contact,
    )
    LeadEventFactory(
        lead=lead,
        kind=LeadEvent.Kind.MEETING,
        occurred_at=timezone.now() - timedelta(days=2),
        data={"title": "Intro call", "note": "Can you deliver 40 tents before June?"},
    )
    return lead


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def test_a_draft_waits_for_approval_and_nothing_is_sent(lead):
    mail.outbox.clear()
    # when
    outcome = lead_followup_draft(lead=lead)
    # then a pending request, proposed by the AI from the lead's history and signed by its rep
    req = outcome.request
    assert req.status == Status.PENDING
    assert req.action == SEND_FOLLOWUP
    assert req.requested_by is None
    assert req.ai_run.skill == "draft_followup"
    assert req.proposal["to"] == "dana@northpeak.example"
    assert req.proposal["subject"] == "Following up — North Peak"
    assert req.proposal["lead_id"] == lead.pk
    assert "Hi Dana" in req.proposal["body"]
    assert "Rita Rep" in req.proposal["body"]
    assert "40 tents" in req.proposal["body"]  # picks up the open question from the meeting note
    # and nothing left the building
    assert sent_to("dana@northpeak.example") == []
    assert not LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT).exists()
    with pytest.raises(AlreadyOpen):
        lead_followup_draft(lead=lead)


def test_a_colleague_edits_and_approves_and_the_edited_email_goes_out_once(lead, colleague, on_commit):
    mail.outbox.clear()
    req = lead_followup_draft(lead=lead).request
    # a light edit (a rewrite would need yet another reviewer)
    edited = req.final["body"] + "\n\nPS: 40 tents by the end of May works. Shall I send a quote?"
    # when
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=colleague,
            verdict="approve",
            edits={"body": edited},
        )
    # then exactly the approved text went to the lead, from the rep's thread
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    [message] = sent_to("dana@northpeak.example")
    assert message.body == edited
    assert message.subject == "Following up — North Peak"
    assert message.reply_to == [lead.owner.email]
    assert message.extra_headers["Message-ID"].startswith(f"<{req.execution_key}@")
    # and it is on the lead's timeline and the contact's
    event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT)
    assert event.data["execution_key"] == req.execution_key
    assert (
        Activity.objects.filter(
            contact=lead.contact, kind=Activity.Kind.EMAIL_OUT, summary="Follow-up sent: Following up — North Peak"
        ).count()
        == 1
    )
    # when the execution is delivered again
    ApprovalRequest.objects.filter(pk=req.pk).update(status=Status.APPROVED)
    approval_execute(request_id=req.pk)
    # then nothing is sent twice
    assert len(sent_to("dana@northpeak.example")) == 1
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT).count() == 1


def test_the_leads_own_rep_edits_and_approves_the_ais_follow_up(lead, sales_rep, on_commit):
    # given: the AI drafted a follow-up for the rep's own lead
    mail.outbox.clear()
    req = lead_followup_draft(lead=lead).request
    assert lead_followups(lead=lead, user=sales_rep).can_decide[0] is True
    # when: the rep edits the body and approves
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=sales_rep,
            verdict="approve",
            edits={"body": req.final["body"] + "\n\nShall we talk on Thursday?"},
        )
    # then: exactly the edited text goes out, once
    sent = sent_to("dana@northpeak.example")
    assert len(sent) == 1
    assert sent[0].body.endswith("\n\nShall we talk on Thursday?")
    assert ApprovalRequest.objects.get(pk=req.pk).status == Status.EXECUTED


def test_a_rep_cannot_approve_a_follow_up_they_wrote_themselves(lead, sales_rep, on_commit):
    from leads.followups import lead_followup_submit

    mail.outbox.clear()
    req = lead_followup_submit(lead=lead, actor=sales_rep, subject="Checking in", body="Hi Dana, any news?")
    with pytest.raises(NotAllowed), on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=sales_rep, verdict="approve")
    assert ApprovalRequest.objects.get(pk=req.pk).status == Status.PENDING
    assert sent_to("dana@northpeak.example") == []


def test_a_rejection_sends_nothing_and_counts_in_the_acceptance_figures(lead, colleague, manager, on_commit):
    mail.outbox.clear()
    first = lead_followup_draft(lead=lead).request
    with on_commit():
        approval_decide(
            request_id=first.pk,
            payload_hash=first.payload_hash,
            reviewer=colleague,
            verdict="reject",
            reason="tone",
            comment="Too pushy for a first follow-up",
        )
    second = lead_followup_draft(lead=lead).request
    with on_commit():
        approval_decide(request_id=second.pk, payload_hash=second.payload_hash, reviewer=manager, verdict="approve")
    # then the rejected draft never went out; the approved one did
    assert ApprovalRequest.objects.get(pk=first.pk).status == Status.REJECTED
    assert len(sent_to("dana@northpeak.example")) == 1
    figures = followup_acceptance()
    assert (figures["decided"], figures["accepted"], figures["rejected"]) == (2, 1, 1)
    assert figures["acceptance"] == 0.5
    assert figures["reasons"] == {"Tone": 1}


def test_when_the_ai_fails_the_rep_writes_it_and_it_still_needs_approval(
    lead, sales_rep, colleague, settings, on_commit
):
    mail.outbox.clear()
    route_skills(settings, "draft_followup", backend=DownBackend)
    # when the AI is unreachable
    outcome = lead_followup_draft(lead=lead)
    # then nothing is proposed and the lead is flagged for a person
    assert outcome.request is None
    assert "Connection refused" in outcome.error
    assert not ApprovalRequest.objects.filter(action=SEND_FOLLOWUP).exists()
    state = lead_followups(lead=lead, user=sales_rep)
    assert state.ai_failed == AiRun.objects.get(skill="draft_followup")
    # when the rep writes it
    req = lead_followup_submit(
        lead=lead, actor=sales_rep, subject="About the tents", body="Hi Dana,\nYes to 40 tents before June.\nRita"
    )
    # then it waits for someone else's approval like any draft
    assert (req.status, req.requested_by, req.ai_run) == (Status.PENDING, sales_rep, None)
    assert req.flags[0]["code"] == "written_by_hand"
    assert sent_to("dana@northpeak.example") == []
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    assert sent_to("dana@northpeak.example")[0].body == "Hi Dana,\nYes to 40 tents before June.\nRita"


def test_leads_that_asked_not_to_be_emailed_get_no_draft(lead):
    lead_update(lead=lead, data={"do_not_email": True}, actor=lead.owner)
    with pytest.raises(ValidationError, match="asked not to be emailed"):
        lead_followup_draft(lead=lead)
    assert not ApprovalRequest.objects.exists()


def test_an_opt_out_after_approval_stops_the_email(lead, colleague, on_commit):
    # given a pending draft
    mail.outbox.clear()
    req = lead_followup_draft(lead=lead).request
    # when the lead opts out, and then a reviewer approves the old draft
    lead_update(lead=lead, data={"do_not_email": True}, actor=lead.owner)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    # then the handler refuses (the version was fixed at approval, after the opt-out, so it re-checks)
    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert "Not sent: This lead asked not to be emailed." in req.error
    assert sent_to("dana@northpeak.example") == []


def test_a_change_of_address_between_approval_and_sending_stops_the_email(lead, colleague):
    # given an approved follow-up whose execution has not run yet (no commit hook here)
    mail.outbox.clear()
    req = lead_followup_draft(lead=lead).request
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    assert ApprovalRequest.objects.get(pk=req.pk).status == Status.APPROVED
    # when the lead's address changes, then the executor runs
    lead_update(lead=lead, data={"email": "dana.ng@northpeak.example"}, actor=lead.owner)
    approval_execute(request_id=req.pk)
    # then it refuses to send the approved email to anyone
    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert "changed after approval" in req.error
    assert mail.outbox == []


def test_a_score_change_does_not_invalidate_an_approved_follow_up(lead, colleague, on_commit):
    mail.outbox.clear()
    req = lead_followup_draft(lead=lead).request
    LeadEventFactory.create_batch(3, lead=lead)  # engagement moves the score, not the email
    lead_update(lead=lead, data={"employees": 900, "attributes": {"Budget": 5000}}, actor=lead.owner)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    assert ApprovalRequest.objects.get(pk=req.pk).status == Status.EXECUTED
    assert len(sent_to("dana@northpeak.example")) == 1


def test_the_payload_must_go_to_the_leads_own_address(lead):
    from approvals.exceptions import InvalidPayload
    from approvals.services import approval_request_create

    with pytest.raises(InvalidPayload, match="lead's own email"):
        approval_request_create(
            action=SEND_FOLLOWUP,
            subject=lead,
            proposal={"to": "someone@else.example", "subject": "Hi", "body": "Hello", "lead_id": lead.pk},
        )

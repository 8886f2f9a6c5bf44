"""approval_decide: permissions, segregation of duties, edits, authority limits, M-of-N."""

import pytest
from django.core import mail

from approvals.exceptions import AuthorityExceeded, InvalidDecision, InvalidEdits, InvalidState, NotAllowed
from approvals.models import ApprovalRequest, AuditEvent, Decision
from approvals.selectors import approval_queue_for, can_decide
from approvals.services import approval_cancel, approval_decide
from hitl_crm.contacts.models import Activity
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
Status = ApprovalRequest.Status


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


def test_approving_sends_the_email_once_and_records_it_on_the_timeline(make_email_request, agent, on_commit):
    # given
    req = make_email_request()
    # when
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    # then
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    customer_mail = [m for m in mail.outbox if m.to == [req.final["to"]]]
    assert len(customer_mail) == 1
    assert customer_mail[0].subject == "Your order has shipped"
    assert customer_mail[0].extra_headers["Message-ID"] == f"<{req.execution_key}@northwind.example>"
    activity = Activity.objects.get(contact_id=req.object_id, kind=Activity.Kind.EMAIL_OUT)
    assert activity.data["execution_key"] == req.execution_key
    assert req.result["execution_key"] == req.execution_key


def test_a_user_without_the_object_permission_cannot_decide(make_email_request, sales_rep, manager):
    req = make_email_request()
    for outsider in (sales_rep, manager):  # managers only get it on escalation
        with pytest.raises(NotAllowed, match="not a reviewer"):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=outsider, verdict="approve")
    assert not Decision.objects.exists()


def test_a_nonexistent_request_answers_like_a_forbidden_one(agent):
    with pytest.raises(NotAllowed, match="not a reviewer"):
        approval_decide(request_id=987654, reviewer=agent, verdict="approve", payload_hash="0" * 64)


def test_the_requester_cannot_approve_their_own_request(make_email_request, agent):
    # given: the agent asked for it and is also in the routed group
    req = make_email_request(requested_by=agent)
    # when / then
    assert can_decide(request=req, user=agent) == (False, "You asked for this; another reviewer must decide it.")
    with pytest.raises(NotAllowed, match="another reviewer"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    assert list(approval_queue_for(user=agent)) == []  # not offered to them either


def test_the_subjects_owner_cannot_approve(make_email_request, agent):
    req = make_email_request(ContactFactory(owner=agent))
    allowed, reason = can_decide(request=req, user=agent)
    assert not allowed
    assert "You own" in reason
    with pytest.raises(NotAllowed, match="You own"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")


def test_a_reviewer_decides_once(refund_policies, make_refund, make_user, manager):
    # given: four-eyes request (two managers)
    req = make_refund("25000.00")
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    # when / then
    assert can_decide(request=req, user=manager) == (False, "You have already decided on this request.")
    with pytest.raises(InvalidState, match="already decided"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert req.approvals_count == 1


def test_reject_needs_a_reason_and_request_changes_a_comment(make_email_request, agent):
    req = make_email_request()
    with pytest.raises(InvalidDecision) as excinfo:
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="reject")
    assert "reason" in excinfo.value.errors
    with pytest.raises(InvalidDecision) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="request_changes",
            comment="  ",
        )
    assert "comment" in excinfo.value.errors
    with pytest.raises(InvalidDecision) as excinfo:
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="yolo")
    assert "verdict" in excinfo.value.errors
    # then a proper rejection closes it without executing anything
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="reject",
        reason="wrong_facts",
        comment="Not shipped",
    )
    req.refresh_from_db()
    assert req.status == Status.REJECTED
    assert req.decisions.get().reason == "wrong_facts"
    assert not Activity.objects.filter(kind=Activity.Kind.EMAIL_OUT).exists()


def test_request_changes_does_not_reject_the_request(make_email_request, agent, on_commit):
    req = make_email_request()
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="request_changes",
            comment="Mention the refund",
        )
    req.refresh_from_db()
    # the notification action has no redraft hook: it stays pending for its requester to revise
    assert req.status == Status.PENDING
    assert req.decided_at is None
    assert req.decisions.get().verdict == Decision.Verdict.REQUEST_CHANGES
    assert [m for m in mail.outbox if m.to == [req.final["to"]]] == []


def test_editing_a_field_that_is_not_editable_is_refused(make_email_request, agent):
    req = make_email_request()
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"to": "attacker@evil.example"},
        )
    assert excinfo.value.errors == {"to": "This field cannot be edited."}
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"bcc": "x@y.z"},
        )
    assert "bcc" in excinfo.value.errors
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert not req.decisions.exists()


def test_edits_are_validated_by_the_actions_serializer(make_email_request, agent):
    req = make_email_request()
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"subject": "x" * 201},
        )
    assert "subject" in excinfo.value.errors
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve",
            edits={"body": "   "},
        )
    assert "body" in excinfo.value.errors


def test_approve_with_edits_executes_the_edited_text_and_records_the_diff(make_email_request, agent, on_commit):
    req = make_email_request()
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"subject": "Your order has shipped!", "body": req.final["body"]},
        )
    req.refresh_from_db()
    decision = req.decisions.get()
    assert decision.verdict == Decision.Verdict.APPROVE_WITH_EDITS
    assert decision.diff == {"subject": {"before": "Your order has shipped", "after": "Your order has shipped!"}}
    assert 0 < decision.edit_ratio < 0.1
    assert req.proposal["subject"] == "Your order has shipped"  # the AI's proposal is kept as it was
    assert [m.subject for m in mail.outbox if m.to == [req.final["to"]]] == ["Your order has shipped!"]


def test_approve_with_unchanged_edits_counts_as_a_plain_approval(make_email_request, agent):
    req = make_email_request()
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="approve_with_edits",
        edits={"subject": req.final["subject"]},
    )
    assert req.decisions.get().verdict == Decision.Verdict.APPROVE
    assert req.decisions.get().edit_ratio == 0


def test_an_agent_cannot_approve_above_their_authority(make_refund, make_user, manager):
    agent = make_user("Support agent", username="agent1")
    req = make_refund("900.00")
    with pytest.raises(AuthorityExceeded, match="500.00"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    # nor raise a small refund above it by editing
    small = make_refund("100.00")
    with pytest.raises(AuthorityExceeded):
        approval_decide(
            request_id=small.pk,
            payload_hash=small.payload_hash,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"amount": "501"},
        )
    # a manager can
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    req.refresh_from_db()
    assert req.status == Status.APPROVED


def test_an_edit_cannot_move_the_amount_out_of_the_policys_range(make_refund, manager):
    # 19,000 is a one-manager refund; editing it to 25,000 would dodge the four-eyes rule
    req = make_refund("19000.00")
    with pytest.raises(InvalidEdits) as excinfo:
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=manager,
            verdict="approve_with_edits",
            edits={"amount": "25000"},
        )
    assert "outside" in excinfo.value.errors["amount"]


def test_m_of_n_needs_distinct_reviewers_for_the_same_payload(
    make_refund, make_user, manager, on_commit, refund_action
):
    # given
    second = make_user("Manager", username="manager2")
    third = make_user("Manager", username="manager3")
    req = make_refund("30000.00")
    assert req.required_approvals == 2
    # when: the first approves, the second changes the note (a new payload)
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=second,
            verdict="approve_with_edits",
            edits={"note": "goodwill"},
        )
    req.refresh_from_db()
    # then: the first approval was for other text, so one approval of the new text is not enough
    assert req.status == Status.PENDING
    assert req.approvals_count == 1
    assert refund_action.CALLS == []
    # the first manager may now approve the edited text; that makes two
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert [c["payload"]["note"] for c in refund_action.CALLS] == ["goodwill"]
    with pytest.raises(InvalidState):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=third, verdict="approve")


def test_no_decision_after_cancel(make_email_request, agent, manager):
    req = make_email_request()
    approval_cancel(request_id=req.pk, actor=manager, reason="duplicate")
    req.refresh_from_db()
    assert can_decide(request=req, user=agent)[0] is False
    with pytest.raises(InvalidState, match="cancelled"):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")


def test_inactive_reviewers_cannot_decide(make_email_request, agent):
    req = make_email_request()
    agent.is_active = False
    agent.save()
    with pytest.raises(NotAllowed):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")


def test_each_decision_is_audited_with_what_changed(make_email_request, agent):
    req = make_email_request()
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=agent,
        verdict="approve_with_edits",
        edits={"body": "Shorter."},
    )
    event = AuditEvent.objects.filter(request=req, verb="decided").get()
    assert event.actor == agent
    assert event.data["verdict"] == "approve_with_edits"
    assert event.data["edited_fields"] == ["body"]
    assert event.data["status"] == "approved"

"""The audit trail is append-only and hash-chained; tampering is detected."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from approvals.audit import GENESIS, audit_record, audit_verify
from approvals.models import AuditEvent
from approvals.services import approval_decide

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


@pytest.fixture
def trail(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    for _ in range(3):
        req = make_email_request()
        approval_decide(
            request_id=req.pk,
            reviewer=agent,
            verdict="approve_with_edits",
            edits={"body": "Edited 1.5 × faster — ünïcode"},
        )
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == 6
    return events


def test_an_untouched_chain_verifies(trail):
    assert trail[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(trail, trail[1:], strict=False))
    assert audit_verify() == (6, None)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "OK: 6 audit event(s), hash chain intact."


def test_changing_one_row_is_detected_at_that_row(trail):
    # given: someone edits who approved, directly in the database
    target = trail[3]
    AuditEvent.objects.filter(pk=target.pk).update(actor_label="user:999:someone-else")
    # when
    checked, broken = audit_verify()
    # then
    assert checked == 3
    assert broken.event_id == target.pk
    assert "was changed" in broken.problem
    with pytest.raises(CommandError, match=f"broken at event {target.pk}"):
        call_command("verify_audit", stdout=StringIO())


def test_changing_a_row_and_its_hash_is_detected_at_the_next_row(trail):
    from approvals.audit import event_hash

    target = AuditEvent.objects.get(pk=trail[2].pk)
    target.data = {**target.data, "verdict": "reject"}
    AuditEvent.objects.filter(pk=target.pk).update(data=target.data, hash=event_hash(target))
    checked, broken = audit_verify()
    assert broken.event_id == trail[3].pk
    assert "prev_hash" in broken.problem


def test_deleting_a_row_is_detected(trail):
    AuditEvent.objects.filter(pk=trail[1].pk)._raw_delete(AuditEvent.objects.db)
    checked, broken = audit_verify()
    assert (checked, broken.event_id) == (1, trail[2].pk)


def test_events_cannot_be_changed_or_deleted_through_the_orm(trail):
    event = trail[0]
    event.verb = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_actors_are_users_the_system_ai_runs_or_the_autopilot(db, make_user):
    from hitl_crm.ai.models import AiRun

    user = make_user(username="alice")
    run = AiRun.objects.create(skill="draft_reply", backend="offline")
    labels = [
        audit_record(verb="x", actor=user).actor_label,
        audit_record(verb="x").actor_label,
        audit_record(verb="x", ai_run=run).actor_label,
        audit_record(verb="x", autopilot=True).actor_label,
    ]
    assert labels == [f"user:{user.pk}:alice", "system", f"ai_run:{run.pk}", "autopilot"]
    assert audit_verify()[1] is None


def test_awkward_json_values_survive_the_round_trip(db):
    audit_record(verb="x", data={"big": 1e300, "small": 1e-7, "nested": [{"b": 2, "a": 1}], "text": "naïve ✓"})
    assert audit_verify() == (1, None)

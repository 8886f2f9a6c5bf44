"""The audit trail is append-only, hash-chained over every column and keyed; tampering is detected."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from approvals.audit import (
    GENESIS,
    MATERIAL_FIELDS,
    audit_anchor_create,
    audit_record,
    audit_verify,
    audit_verify_report,
    event_hash,
    event_mac,
)
from approvals.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


@pytest.fixture
def trail(make_email_request, make_user):
    """A request and four comments on it by a user: the newest events of the chain."""
    agent = make_user("Support agent", username="agent1")
    req = make_email_request()
    for n in range(4):
        audit_record(verb="commented", request=req, actor=agent, data={"n": n, "text": "1.5 × faster — ünïcode"})
    return list(AuditEvent.objects.filter(request=req).order_by("id"))


def verify_output() -> tuple[bool, str]:
    """Run ``manage.py verify_audit``: (passed, everything it printed)."""
    out = StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def rehash_from(event_id: int) -> None:
    """What someone with database access but without the key can do: recompute every later hash."""
    prev = AuditEvent.objects.filter(id__lt=event_id).order_by("-id").values_list("hash", flat=True).first()
    prev = prev or GENESIS
    for event in AuditEvent.objects.filter(id__gte=event_id).order_by("id"):
        event.prev_hash = prev
        event.hash = event_hash(event)
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=event.prev_hash, hash=event.hash)
        prev = event.hash


def test_the_hashed_material_covers_every_column():
    # given: every concrete column of the model; id is assigned by the database, hash and mac are outputs
    columns = {f.attname for f in AuditEvent._meta.concrete_fields} - {"id", "hash", "mac"}
    # then: a new column fails here until it is added to the material (or it would be unprotected)
    assert set(MATERIAL_FIELDS) == columns
    assert {"actor_id", "actor_type", "ai_run_id", "request_id", "verb", "data", "created_at"} <= set(MATERIAL_FIELDS)


def test_an_untouched_chain_verifies(trail):
    audit_anchor_create()
    # then: links, hashes, MACs and the anchor agree
    report = audit_verify_report()
    assert report.problems == []
    assert report.checked == AuditEvent.objects.count()
    assert report.anchors_checked == 1
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(trail, trail[1:], strict=False))
    passed, out = verify_output()
    assert passed, out
    assert f"OK: {report.checked} audit event(s), 1 anchor(s), hash chain, MACs and anchors intact." in out


def test_changing_the_actor_id_is_detected(trail, make_user):
    # given: someone re-attributes a comment to another user, directly in the database
    other = make_user(username="someone-else")
    target = trail[2]
    AuditEvent.objects.filter(pk=target.pk).update(actor=other)
    # when
    passed, out = verify_output()
    # then
    assert not passed
    assert f"PROBLEM [rewrite]: event {target.pk}: its content does not match its hash (changed in place)." in out


def test_changing_data_is_detected_at_that_row(trail):
    target = trail[1]
    AuditEvent.objects.filter(pk=target.pk).update(data={**target.data, "text": "approved by nobody"})
    passed, out = verify_output()
    assert not passed
    assert f"PROBLEM [rewrite]: event {target.pk}: its content does not match its hash" in out
    assert audit_verify()[1].event_id == target.pk


def test_rewriting_a_row_and_recomputing_every_later_hash_without_the_key_is_detected(trail):
    # given: a row is rewritten and the whole chain after it re-hashed, so the links agree again
    target = trail[1]
    AuditEvent.objects.filter(pk=target.pk).update(verb="rejected")
    rehash_from(target.pk)
    # when
    report = audit_verify_report()
    # then: the hashes agree, but the MACs (keyed) do not, from the rewritten row on
    assert [p.kind for p in report.problems] == ["rewrite"]
    newest = AuditEvent.objects.order_by("-id").first().pk
    assert report.problems[0].message == (
        f"events {target.pk}–{newest} ({newest - target.pk + 1} events): their MACs do not match "
        "(the chain was rewritten and re-hashed without the audit key, or the key changed)."
    )


def test_a_rewritten_chain_also_disagrees_with_its_anchor(trail):
    audit_anchor_create()
    AuditEvent.objects.filter(pk=trail[0].pk).update(data={"rewritten": True})
    rehash_from(trail[0].pk)
    passed, out = verify_output()
    assert not passed
    assert f"anchor #1: event {trail[-1].pk}'s hash differs from the anchored one" in out


def test_deleting_a_middle_row_is_detected(trail):
    # given
    gone = trail[2]
    AuditEvent.objects.filter(pk=gone.pk)._raw_delete(AuditEvent.objects.db)
    # when
    passed, out = verify_output()
    # then
    assert not passed
    assert (
        f"PROBLEM [deletion]: events {gone.pk} are missing between events {trail[1].pk} and {trail[3].pk} (deleted)."
        in out
    )


def test_deleting_the_newest_rows_after_an_anchor_is_detected(trail):
    # given: the head is anchored, then the two newest events are deleted
    anchor = audit_anchor_create()
    assert anchor.head_id == trail[-1].pk
    AuditEvent.objects.filter(pk__in=[trail[-1].pk, trail[-2].pk])._raw_delete(AuditEvent.objects.db)
    # when
    passed, out = verify_output()
    # then: the chain itself is consistent, the anchor shows it was cut short
    assert not passed
    assert (
        f"PROBLEM [truncation]: anchor #1 ({anchor.created_at.isoformat()}) pins event {trail[-1].pk} with "
        f"{anchor.event_count} events, but the chain ends at event {trail[-3].pk} with {anchor.event_count - 2}: "
        "the newest events were deleted (truncation)."
    ) in out


def test_deleting_rows_before_an_anchored_head_is_detected_even_when_relinked(trail):
    anchor = audit_anchor_create()
    AuditEvent.objects.filter(pk=trail[0].pk)._raw_delete(AuditEvent.objects.db)
    rehash_from(trail[1].pk)
    report = audit_verify_report()
    messages = [p.message for p in report.problems]
    assert (
        f"anchor #1: {anchor.event_count} events up to event {trail[-1].pk} were anchored, "
        f"{anchor.event_count - 1} found."
    ) in messages


def test_ids_the_database_skipped_are_a_note_not_a_problem(trail):
    # given: the next event gets an id a rolled-back transaction had taken (PostgreSQL sequences do this)
    last = AuditEvent.objects.order_by("-id").first()
    event = AuditEvent(
        id=last.pk + 3,
        actor_type=AuditEvent.ActorType.SYSTEM,
        actor_label="system",
        verb="x",
        prev_hash=last.hash,
    )
    event.hash = event_hash(event)
    event.mac = event_mac(event)
    event.save(force_insert=True)
    # when
    report = audit_verify_report()
    # then
    assert report.problems == []
    assert f"ids {last.pk + 1}–{last.pk + 2} are unused; the chain links across them" in " ".join(report.notes)


def test_verifying_with_another_key_fails(trail, settings):
    settings.HITL_CRM_AUDIT_KEY = "a-different-key-of-at-least-32-characters!"
    report = audit_verify_report()
    assert report.problems
    assert "their MACs do not match" in report.problems[0].message


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
    events = [
        audit_record(verb="x", actor=user),
        audit_record(verb="x"),
        audit_record(verb="x", ai_run=run),
        audit_record(verb="x", autopilot=True),
    ]
    assert [e.actor_label for e in events] == [f"user:{user.pk}:alice", "system", f"ai_run:{run.pk}", "autopilot"]
    assert [(e.actor_type, e.actor_id, e.ai_run_id) for e in events] == [
        ("user", user.pk, None),
        ("system", None, None),
        ("ai", None, run.pk),
        ("autopilot", None, None),
    ]
    assert audit_verify()[1] is None


def test_awkward_json_values_survive_the_round_trip(db):
    audit_record(verb="x", data={"big": 1e300, "small": 1e-7, "nested": [{"b": 2, "a": 1}], "text": "naïve ✓"})
    assert audit_verify_report().problems == []

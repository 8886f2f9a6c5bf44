"""Anchors pin the audit chain's head in the database, the log and (configured) admins' mailboxes."""

import json
import logging
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils.module_loading import import_string

from approvals.audit import (
    GENESIS,
    anchor_logger,
    anchors_from_log,
    audit_anchor_create,
    audit_record,
    audit_verify_report,
    event_hash,
)
from approvals.models import AuditAnchor, AuditEvent
from approvals.tasks import audit_anchor_task
from hitl_crm.celery import app as celery_app

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def events(make_user):
    user = make_user(username="reviewer1")
    return [audit_record(verb="commented", actor=user, data={"n": n}) for n in range(3)]


@pytest.fixture
def json_log(tmp_path, settings):
    """The anchor logger writing JSON lines to a file, with the project's production formatter."""
    spec = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(spec.pop("()"))(**spec)
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter)
    level = anchor_logger.level
    anchor_logger.addHandler(handler)
    anchor_logger.setLevel(logging.INFO)
    yield path
    anchor_logger.removeHandler(handler)
    anchor_logger.setLevel(level)
    handler.close()


def test_the_anchor_task_is_in_the_beat_schedule_and_registered(settings):
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "approvals.tasks.audit_anchor_task"]
    assert len(entries) == 1
    assert "approvals.tasks.audit_anchor_task" in celery_app.tasks


def test_the_anchor_task_writes_a_row_a_log_line_and_an_email(events, settings, on_commit, caplog):
    # given
    settings.HITL_CRM_AUDIT_ANCHOR_EMAILS = "security@northwind.example, ops@northwind.example"
    head = AuditEvent.objects.order_by("-id").first()
    # when
    with caplog.at_level(logging.INFO, logger="hitl_crm.audit.anchor"), on_commit():
        sequence = audit_anchor_task.delay().get()
    # then: the row
    anchor = AuditAnchor.objects.get()
    assert (sequence, anchor.sequence, anchor.head_id, anchor.head_hash) == (1, 1, head.pk, head.hash)
    assert anchor.event_count == AuditEvent.objects.count()
    assert anchor.prev_mac == GENESIS
    assert len(anchor.mac) == 64
    # the log line, with the values as JSON fields
    [record] = [r for r in caplog.records if r.name == "hitl_crm.audit.anchor"]
    assert (record.audit_sequence, record.audit_head_id, record.audit_head_hash, record.audit_mac) == (
        1,
        head.pk,
        head.hash,
        anchor.mac,
    )
    [logged] = anchors_from_log([record.getMessage()])
    assert (logged.sequence, logged.head_id, logged.mac) == (1, head.pk, anchor.mac)
    # the email to the configured admins
    [message] = mail.outbox
    assert message.to == ["security@northwind.example", "ops@northwind.example"]
    assert message.subject == f"Audit anchor #1: {anchor.event_count} events"
    assert head.hash in message.body
    assert anchor.mac in message.body


def test_no_email_when_no_recipients_are_configured(events, on_commit):
    with on_commit():
        audit_anchor_task.delay()
    assert AuditAnchor.objects.count() == 1
    assert mail.outbox == []


def test_an_unchanged_head_is_not_anchored_twice_and_anchors_chain(events):
    first = audit_anchor_create()
    assert audit_anchor_create() is None
    audit_record(verb="commented")
    second = audit_anchor_create()
    assert (second.sequence, second.prev_mac) == (2, first.mac)
    assert second.event_count == first.event_count + 1
    assert audit_verify_report().problems == []


def test_anchoring_refuses_a_head_that_went_back_and_logs_an_error(events, caplog):
    audit_anchor_create()
    AuditEvent.objects.filter(pk=events[-1].pk)._raw_delete(AuditEvent.objects.db)
    with caplog.at_level(logging.ERROR, logger="hitl_crm.audit.anchor"):
        assert audit_anchor_create() is None
    assert AuditAnchor.objects.count() == 1
    assert f"event {events[-1].pk} pinned by anchor #1 is missing or changed" in caplog.text


def test_a_forged_or_changed_anchor_is_detected(events):
    anchor = audit_anchor_create()
    AuditAnchor.objects.filter(pk=anchor.pk).update(event_count=anchor.event_count - 1)
    messages = [p.message for p in audit_verify_report().problems]
    assert "database anchor #1: its MAC does not match (the anchor was changed or forged)." in messages


def test_deleting_the_newest_events_and_anchors_is_caught_against_the_log(events, json_log, on_commit):
    # given: two anchors, published to the JSON log
    with on_commit():
        audit_anchor_create()
    audit_record(verb="commented")
    with on_commit():
        second = audit_anchor_create()
    # when: the newest event and the newest anchor are deleted from the database
    AuditEvent.objects.filter(pk=second.head_id)._raw_delete(AuditEvent.objects.db)
    AuditAnchor.objects.filter(pk=second.pk)._raw_delete(AuditAnchor.objects.db)
    # then: the database alone looks consistent...
    out = StringIO()
    call_command("verify_audit", stdout=out)
    # ...but not against the log
    lines = json_log.read_text().splitlines()
    assert json.loads(lines[-1])["logger"] == "hitl_crm.audit.anchor"
    out = StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("verify_audit", anchors_from_log=str(json_log), stdout=out)
    printed = out.getvalue()
    assert "PROBLEM [truncation]: log anchor #2 is missing from the database." in printed
    assert f"PROBLEM [truncation]: anchor #2 ({second.created_at.isoformat()}) pins event {second.head_id}" in printed


def test_an_unreadable_or_empty_log_is_a_clear_error(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("verify_audit", anchors_from_log=str(tmp_path / "missing.log"), stdout=StringIO())
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    with pytest.raises(CommandError, match="No audit anchors"):
        call_command("verify_audit", anchors_from_log=str(empty), stdout=StringIO())


def test_anchors_are_append_only(events):
    anchor = audit_anchor_create()
    with pytest.raises(ValueError, match="append-only"):
        anchor.save()
    with pytest.raises(ValueError, match="append-only"):
        anchor.delete()


def test_the_migration_seals_legacy_events_with_a_mac(make_user):
    # given: an event as the previous version wrote it (legacy hash, no MAC)
    user = make_user(username="legacy")
    head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
    legacy = AuditEvent(
        actor_type="user",
        actor=user,
        actor_label=f"user:{user.pk}:legacy",
        verb="decided",
        data={"verdict": "approve"},
        scheme=AuditEvent.SCHEME_LEGACY,
        prev_hash=head,
    )
    legacy.hash = event_hash(legacy)
    legacy.save(force_insert=True)
    assert [(p.event_id, "MAC does not match" in p.message) for p in audit_verify_report().problems] == [
        (legacy.pk, True)
    ]
    # when: the data migration runs
    migration = import_module("approvals.migrations.0002_audit_integrity")
    migration.backfill_macs(django_apps, type("Editor", (), {"connection": connection})())
    # then: it verifies, with a note, and its actor is now protected too
    report = audit_verify_report()
    assert report.problems == []
    assert report.legacy == 1
    other = make_user(username="other")
    AuditEvent.objects.filter(pk=legacy.pk).update(actor=other)
    assert [p.event_id for p in audit_verify_report().problems] == [legacy.pk]


def test_deleting_an_anchor_in_the_middle_is_detected(events):
    audit_anchor_create()
    audit_record(verb="commented")
    second = audit_anchor_create()
    audit_record(verb="commented")
    audit_anchor_create()
    AuditAnchor.objects.filter(pk=second.pk)._raw_delete(AuditAnchor.objects.db)
    messages = [p.message for p in audit_verify_report().problems]
    assert messages == ["database anchor(s) #2 are missing (deleted)."]


def test_a_forged_log_line_is_detected(events, caplog, on_commit):
    with caplog.at_level(logging.INFO, logger="hitl_crm.audit.anchor"), on_commit():
        anchor = audit_anchor_create()
    line = caplog.records[-1].getMessage().replace(f'"event_count":{anchor.event_count}', '"event_count":999')
    messages = [p.message for p in audit_verify_report(log_anchors=anchors_from_log([line])).problems]
    assert "log anchor #1: its MAC does not match (the anchor was changed or forged)." in messages
    assert "anchor #1 differs between the log and the database." in messages

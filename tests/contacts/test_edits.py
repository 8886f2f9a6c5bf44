"""Editing contacts and accounts: permission, locking, tags, and the audit trail of every change."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import AuditEvent
from hitl_crm.contacts.models import Account, Activity, Contact
from hitl_crm.contacts.services import account_update, activity_log, contact_update
from hitl_crm.contacts.signals import record_changed
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _verify_audit() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)  # raises CommandError when the chain is broken
    return out.getvalue()


def test_an_owner_change_is_in_the_audit_chain_and_the_chain_still_verifies(sales_rep, manager):
    # given: a contact owned by the rep
    contact = ContactFactory(owner=sales_rep)
    # when: the manager gives it to themself and tags it
    contact_update(contact=contact, data={"owner": manager, "tags": "VIP, school"}, actor=manager)
    # then: one audit event names the actor, the contact and what changed
    event = AuditEvent.objects.get(verb="contact.updated")
    assert event.actor == manager
    assert event.target_id == str(contact.pk)
    assert event.data["before"] == {"owner": {"id": sales_rep.pk, "name": str(sales_rep)}, "tags": []}
    assert event.data["after"] == {"owner": {"id": manager.pk, "name": str(manager)}, "tags": ["vip", "school"]}
    contact.refresh_from_db()
    assert contact.owner == manager
    assert contact.tags == ["vip", "school"]
    assert "hash chain, MACs and anchors intact" in _verify_audit()


def test_an_edit_that_cannot_be_audited_is_not_made(sales_rep):
    # given: a receiver that fails, as an audit write can
    contact = ContactFactory(title="Buyer")

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    record_changed.connect(broken, dispatch_uid="test.broken")
    try:
        with pytest.raises(RuntimeError):
            contact_update(contact=contact, data={"title": "Head buyer"}, actor=sales_rep)
    finally:
        record_changed.disconnect(dispatch_uid="test.broken")
    # then: the change, its timeline entry and its audit event were all rolled back
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"
    assert not Activity.objects.filter(contact=contact).exists()
    assert not AuditEvent.objects.filter(verb="contact.updated").exists()


def test_a_user_without_the_permission_cannot_edit_a_contact(nobody):
    contact = ContactFactory(title="Buyer")
    with pytest.raises(PermissionDenied):
        contact_update(contact=contact, data={"title": "Boss"}, actor=nobody)
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"
    assert not AuditEvent.objects.filter(verb__startswith="contact.").exists()


def test_a_bad_tag_is_refused_naming_the_tags_field(sales_rep):
    contact = ContactFactory()
    with pytest.raises(ValidationError) as excinfo:
        contact_update(contact=contact, data={"tags": "vip, <script>"}, actor=sales_rep)
    assert "<script>" in excinfo.value.message_dict["tags"][0]
    assert Contact.objects.get(pk=contact.pk).tags == []


def test_the_callers_instance_sees_the_saved_values(sales_rep):
    contact = ContactFactory(title="Buyer")
    contact_update(contact=contact, data={"title": "Head buyer", "phone": "(415) 555-0123"}, actor=sales_rep)
    assert (contact.title, contact.phone) == ("Head buyer", "+14155550123")


def test_an_account_tier_change_is_audited(manager):
    account = AccountFactory(tier=Account.Tier.STANDARD)
    account_update(account=account, data={"tier": "vip", "industry": " Hospitality "}, actor=manager)
    event = AuditEvent.objects.get(verb="account.updated")
    assert event.data == {
        "before": {"tier": "standard", "industry": "Retail"},
        "after": {"tier": "vip", "industry": "Hospitality"},
    }
    assert Account.objects.get(pk=account.pk).is_vip


def test_a_support_agent_may_not_change_accounts(support_agent):
    account = AccountFactory(tier=Account.Tier.STANDARD)
    with pytest.raises(PermissionDenied):
        account_update(account=account, data={"tier": "vip"}, actor=support_agent)
    assert Account.objects.get(pk=account.pk).tier == "standard"


def test_logging_a_call_records_who_and_what(sales_rep):
    contact = ContactFactory()
    activity = activity_log(
        contact=contact,
        actor=sales_rep,
        kind="call",
        subject="",
        body="Asked for a quote on 40 tents.\nCall back Friday.",
    )
    assert activity.actor == sales_rep
    assert activity.summary == "Asked for a quote on 40 tents."
    assert activity.data["body"].endswith("Call back Friday.")
    contact.refresh_from_db()
    assert contact.last_activity_at == activity.occurred_at


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": "call", "body": "   "}, "body", "empty entry"),
        ({"kind": "email_out", "body": "Sent it"}, "kind", "call, meeting, note"),
        (
            {"kind": "meeting", "body": "Met", "occurred_at": timezone.now() + timedelta(days=2)},
            "occurred_at",
            "future",
        ),
    ],
)
def test_an_activity_that_cannot_be_logged_says_why(sales_rep, fields, field, words):
    with pytest.raises(ValidationError) as excinfo:
        activity_log(contact=ContactFactory(), actor=sales_rep, **fields)
    assert words in excinfo.value.message_dict[field][0]
    assert not Activity.objects.exists()


def test_someone_without_add_activity_cannot_log(nobody):
    with pytest.raises(PermissionDenied):
        activity_log(contact=ContactFactory(), actor=nobody, kind="note", body="Hello")


def test_the_contact_api_shows_and_sets_tags_and_names_a_bad_tag(sales_rep):
    contact = ContactFactory()
    api = APIClient()
    api.force_authenticate(sales_rep)

    ok = api.patch(f"/api/v1/contacts/{contact.pk}/", {"tags": ["VIP", "School"]}, format="json")
    bad = api.patch(f"/api/v1/contacts/{contact.pk}/", {"tags": ["fine", "no!"]}, format="json")

    assert ok.status_code == 200
    assert ok.json()["tags"] == ["vip", "school"]
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["tags"] == ["vip", "school"]
    assert bad.status_code == 400
    assert "tags" in str(bad.json())
    assert AuditEvent.objects.filter(verb="contact.updated", actor=sales_rep).count() == 1

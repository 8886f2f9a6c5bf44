import smtplib

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from approvals.handlers import NOTIFY_EMAIL, NOTIFY_EMAIL_ACTION
from approvals.models import ApprovalRequest
from approvals.registry import Action, all_actions, get_action, register
from approvals.services import approval_decide, approval_execute
from hitl_crm.contacts.models import Activity
from tests.approvals.actions import REFUND

pytestmark = [pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_the_built_in_action_is_registered():
    action = get_action(NOTIFY_EMAIL)
    assert action is NOTIFY_EMAIL_ACTION
    assert action.editable_fields == ("subject", "body")
    assert action in all_actions()


def test_a_key_cannot_be_taken_over_by_another_action():
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        register(Action(key=NOTIFY_EMAIL, label="Evil twin", serializer=REFUND.serializer, handler=REFUND.handler))
    register(NOTIFY_EMAIL_ACTION)  # registering the same action again is harmless


def test_an_unregistered_action_shows_a_placeholder_that_never_executes(db):
    req = ApprovalRequest(action="gone.away", final={"a": 1})
    assert req.action_spec.label == "gone.away (not installed)"


@pytest.fixture
def approved_email(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    req = make_email_request()
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    return req


@pytest.mark.django_db
def test_the_email_handler_is_idempotent_per_execution_key(approved_email):
    req = approval_execute(request_id=approved_email.pk)
    assert req.status == "executed"
    # a second run of the handler with the same key (e.g. after a lost acknowledgement)
    again = NOTIFY_EMAIL_ACTION.handler(req, req.final)
    assert again["duplicate"] is True
    assert len([m for m in mail.outbox if m.to == [req.final["to"]]]) == 1
    assert Activity.objects.filter(kind=Activity.Kind.EMAIL_OUT).count() == 1


@pytest.mark.django_db
def test_a_mail_server_outage_is_transient_and_retried(approved_email, monkeypatch, settings):
    settings.HITL_CRM_APPROVALS_MAX_ATTEMPTS = 2

    def down(self):  # the server drops us before any message is handed over
        raise smtplib.SMTPServerDisconnected("connection lost")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.open", down, raising=False)
    from approvals.exceptions import TransientExecutionError

    with pytest.raises(TransientExecutionError):
        approval_execute(request_id=approved_email.pk)
    req = ApprovalRequest.objects.get(pk=approved_email.pk)
    assert req.status == "approved"
    assert "connection lost" in req.error
    req = approval_execute(request_id=approved_email.pk)  # second and last attempt
    assert req.status == "failed"
    assert not Activity.objects.filter(kind=Activity.Kind.EMAIL_OUT).exists()  # nothing recorded as sent


@pytest.mark.django_db
def test_a_permanent_smtp_refusal_fails_without_retry(approved_email, monkeypatch):
    def refuse(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")})

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    req = approval_execute(request_id=approved_email.pk)
    assert req.status == "failed"
    assert "SMTPRecipientsRefused" in req.error

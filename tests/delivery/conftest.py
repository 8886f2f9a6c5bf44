from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy
from approvals.services import approval_decide, approval_request_create
from hitl_crm.accounts.roles import SUPPORT_AGENT
from tests.delivery import backends
from tests.factories import ContactFactory
from tests.service.conftest import customer, desk, knowledge, policies, receive  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def recording_backend(settings):
    settings.EMAIL_BACKEND = "tests.delivery.backends.RecordingBackend"
    backends.reset()
    yield backends
    backends.reset()


@pytest.fixture
def email_policy(roles) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.create(name="Email", action=NOTIFY_EMAIL, sla_minutes=60)
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    return policy


@pytest.fixture
def approve_email(email_policy, make_user, django_capture_on_commit_callbacks):
    """An approved notify_email request; ``execute=False`` leaves the execution to the test."""
    agent = make_user(SUPPORT_AGENT, username="reviewer")

    def make(*, execute: bool = False):
        contact = ContactFactory()
        proposal = {"to": contact.email, "subject": "Your order has shipped", "body": "Hi,\nit left today."}
        req = approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal)
        with django_capture_on_commit_callbacks(execute=execute):
            approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
        req.refresh_from_db()
        return req

    return make

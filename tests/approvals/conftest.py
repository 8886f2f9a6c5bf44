"""Fixtures for approvals tests (the real worker of the integration tests is ``tests.celery_worker``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, AuthorityLimit
from approvals.registry import register, unregister
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from tests.approvals import actions
from tests.factories import ContactFactory


@pytest.fixture
def agents(roles) -> Group:
    return Group.objects.get(name=SUPPORT_AGENT)


@pytest.fixture
def managers(roles) -> Group:
    return Group.objects.get(name=MANAGER)


@pytest.fixture
def contact(db):
    return ContactFactory()


@pytest.fixture
def email_policy(agents, managers) -> ApprovalPolicy:
    """notify_email → support agents, one approval, 60-minute SLA, escalates to managers."""
    policy = ApprovalPolicy.objects.create(name="Email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=managers)
    policy.reviewer_groups.set([agents])
    return policy


@pytest.fixture
def make_email_request(email_policy):
    def make(contact=None, **kwargs):
        contact = contact or ContactFactory()
        proposal = kwargs.pop("proposal", None) or {
            "to": contact.email,
            "subject": "Your order has shipped",
            "body": "Hi,\nit left the warehouse today.",
        }
        return approval_request_create(action=NOTIFY_EMAIL, subject=contact, proposal=proposal, **kwargs)

    return make


@pytest.fixture
def refund_action():
    """The recording test action (amount field, editable amount and note)."""
    register(actions.REFUND)
    actions.CALLS.clear()
    actions.FAILURES.update(transient=0, permanent=False)
    yield actions
    unregister(actions.REFUND.key)
    actions.CALLS.clear()


@pytest.fixture
def refund_policies(refund_action, agents, managers) -> dict[str, ApprovalPolicy]:
    """The shape in DESIGN.md: agents ≤ 500, managers ≤ 20,000, above that two managers."""
    small = ApprovalPolicy.objects.create(
        name="Refunds ≤ 20k", action="tests.refund", max_amount=Decimal("20000"), escalation_group=managers
    )
    small.reviewer_groups.set([agents, managers])
    AuthorityLimit.objects.create(policy=small, group=agents, max_amount=Decimal("500"))
    AuthorityLimit.objects.create(policy=small, group=managers, max_amount=Decimal("20000"))
    large = ApprovalPolicy.objects.create(
        name="Refunds > 20k",
        action="tests.refund",
        min_amount=Decimal("20000.01"),
        required_approvals=2,
        escalation_group=managers,
    )
    large.reviewer_groups.set([managers])
    return {"small": small, "large": large}


@pytest.fixture
def make_refund(refund_policies):
    def make(amount: str = "120.00", contact=None, **kwargs):
        contact = contact or ContactFactory()
        return approval_request_create(
            action="tests.refund", subject=contact, proposal={"amount": amount, "currency": "USD"}, **kwargs
        )

    return make


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """``with on_commit():`` runs what would run after commit (tasks are eager in unit tests)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run

"""Fixtures for service desk tests: the knowledge base, the routing policies, and a helper that
delivers an inbound email and runs everything that would run after commit (eager Celery)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail as django_mail

from hitl_crm.contacts.models import Account
from service.demo import ARTICLES
from service.inbound import build
from service.routing import service_policies_ensure
from service.services import inbound_message_receive, knowledge_article_seed
from tests.factories import AccountFactory, ContactFactory
from tests.integration.conftest import real_services  # noqa: F401 (PostgreSQL + Redis, or skip)

SUPPORT = "support@northwind.example"


@pytest.fixture
def knowledge(db):
    return [knowledge_article_seed(published=True, **article) for article in ARTICLES]


@pytest.fixture
def policies(roles):
    service_policies_ensure()


@pytest.fixture
def desk(knowledge, policies):
    """Knowledge base and routing in place: the service desk as installed."""


@pytest.fixture
def customer(db):
    return ContactFactory(
        first_name="Olivia",
        last_name="Andersen",
        email="olivia@trailhead.example",
        account=AccountFactory(name="Trailhead Co", tier=Account.Tier.STANDARD),
    )


@pytest.fixture
def vip_customer(db):
    return ContactFactory(
        first_name="Pia",
        last_name="Lund",
        email="pia@alpinelodge.example",
        account=AccountFactory(name="Alpine Lodge Group", tier=Account.Tier.VIP),
    )


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    """``receive(sender, subject, body, **headers)``: an email arrives; the pipeline runs (eager)."""

    def deliver(sender: str, subject: str, body: str, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return inbound_message_receive(mail=build(sender=sender, subject=subject, body=body, **fields))

    return deliver


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def customer_mail(address: str) -> list:
    """Mail that went to this customer (reviewer notifications go to staff, not here)."""
    return [m for m in django_mail.outbox if address in m.to]


def money(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture
def make_case(db):
    """A case with one customer message, made directly (no pipeline), for list and permission tests."""
    from django.utils import timezone

    from service.models import Case, Message

    counter = {"n": 0}

    def make(contact=None, **fields):
        counter["n"] += 1
        contact = contact or ContactFactory()
        now = timezone.now()
        case = Case.objects.create(
            contact=contact,
            subject=fields.pop("subject", f"Question {counter['n']}"),
            waiting_since=fields.pop("waiting_since", now),
            **fields,
        )
        Message.objects.create(
            case=case,
            direction="in",
            sender=contact.email,
            subject=case.subject,
            body=fields.get("body", "Hello, a question."),
            received_at=now,
            occurred_at=now,
            message_id=f"<case-{case.pk}-{counter['n']}@test.example>",
        )
        return case

    return make

"""Fixtures for marketing tests: people in roles, an approval policy, contacts, a ready campaign."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.models import ApprovalPolicy
from hitl_crm.accounts.roles import MANAGER, MARKETER
from marketing.handlers import SEND_CAMPAIGN
from marketing.models import Campaign, Segment, Variant
from marketing.services import campaign_create, campaign_lock_variants, variant_create
from tests.factories import AccountFactory, ContactFactory, UserFactory

BODY = "Hi {first_name},\n\nSee the new tents: https://shop.example/tents?src=mail\n\nBest,\nMia"


@pytest.fixture(autouse=True)
def _site_url(settings):
    """Tracking links and unsubscribe links are absolute: they need the site's public address."""
    settings.HITL_CRM_SITE_URL = "https://crm.example.com"


@pytest.fixture
def colleague(make_user):
    """A second marketer: reviews campaigns built by ``marketer`` (segregation of duties)."""
    return make_user(MARKETER, username="colleague")


@pytest.fixture
def campaign_policy(roles) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.create(name="Campaign sends", action=SEND_CAMPAIGN, sla_minutes=480)
    policy.reviewer_groups.set(Group.objects.filter(name__in=[MARKETER, MANAGER]))
    return policy


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """``with on_commit():`` runs what would run after commit (tasks are eager in unit tests)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def audience(db):
    """Ten contacts who may receive marketing email, plus three who may not."""
    account = AccountFactory(tier="premium")
    reachable = [ContactFactory(account=account, email=f"buyer{i}@customer.example") for i in range(10)]
    ContactFactory(account=account, email="noconsent@customer.example", email_consent=False)
    ContactFactory(account=account, email="")
    return reachable


@pytest.fixture
def everyone(db) -> Segment:
    return Segment.objects.create(name="Everyone", rules=[])


@pytest.fixture
def make_campaign(marketer, everyone, audience):
    """A campaign by ``marketer`` with ``arms`` shortlisted variants, in ``variants_approved``."""

    def make(arms: int = 2, *, body: str = BODY, segment: Segment | None = None, lock: bool = True, **fields):
        campaign = campaign_create(
            actor=marketer,
            name=fields.pop("name", "Spring tents"),
            brief="Our new tent sets up in 3 minutes.",
            **fields,
        )
        for i in range(arms):
            variant_create(
                campaign=campaign,
                actor=marketer,
                subject=f"Subject {'ABCD'[i]}",
                body=body,
                style=("benefit", "question", "urgency", "number")[i],
            )
        Campaign.objects.filter(pk=campaign.pk).update(segment=segment or everyone)
        campaign.refresh_from_db()
        if lock:
            campaign = campaign_lock_variants(campaign=campaign, actor=marketer)
        return campaign

    return make


def split_evenly(campaign: Campaign) -> list[Variant]:
    """Give the sent test cells equal sizes (A, B, A, B … by id), whatever the hash split drew.

    For tests that assert on results: which ids a database hands out (and so the split) differs
    between SQLite and PostgreSQL runs.
    """
    from marketing.models import Send

    variants = shortlisted(campaign)
    for index, pk in enumerate(
        Send.objects.filter(campaign=campaign, phase="test").order_by("pk").values_list("pk", flat=True)
    ):
        Send.objects.filter(pk=pk).update(variant=variants[index % len(variants)])
    return variants


def shortlisted(campaign: Campaign) -> list[Variant]:
    return list(campaign.variants.filter(status=Variant.Status.APPROVED).order_by("pk"))


@pytest.fixture
def user_factory(roles):
    return UserFactory

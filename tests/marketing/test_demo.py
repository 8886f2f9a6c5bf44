"""The marketing demo: a believable past A/B test, a draft with AI variants, trained scores; idempotent."""

import re
from io import StringIO

import pytest
from django.apps import apps

from hitl_crm.accounts.roles import MARKETER
from hitl_crm.contacts.demo import seed as seed_contacts
from marketing.delivery import phase_is_approved
from marketing.demo import DRAFT, PAST
from marketing.models import Campaign, ContactScore, PredictiveModel, Segment, Send
from marketing.selectors import campaign_daily, campaign_results

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_history_a_draft_and_scores_and_is_idempotent(make_user):
    make_user(MARKETER, username="mia")
    seed_contacts(stdout=StringIO())
    config = apps.get_app_config("marketing")
    # when: seeded twice
    config.seed_demo(stdout=StringIO())
    counts = (
        Campaign.objects.count(),
        Send.objects.count(),
        Segment.objects.count(),
        ContactScore.objects.count(),
        PredictiveModel.objects.count(),
    )
    config.seed_demo(stdout=StringIO())
    # then: nothing doubled
    assert (
        Campaign.objects.count(),
        Send.objects.count(),
        Segment.objects.count(),
        ContactScore.objects.count(),
        PredictiveModel.objects.count(),
    ) == counts
    # the past campaign has results spread over days and a plain verdict
    past = Campaign.objects.get(name=PAST)
    results = campaign_results(past)
    assert past.status == "sent"
    assert results["totals"]["sent"] > 50
    assert 0 < results["totals"]["clicked"] < results["totals"]["opened"] < results["totals"]["sent"]
    days_with_opens = [day for day, n in campaign_daily(past)["Opens"] if n]
    assert len(days_with_opens) >= 3
    assert re.match(r"^[AB] (is ahead|is the winner)|^A and B are level", results["sentence"]), results["sentence"]
    assert [r.sent > 20 for r in results["variants"]] == [True, True]
    # history cannot be (re)sent: no approval ever released it
    assert not phase_is_approved(past, "test")
    # the draft waits for a marketer with AI proposals
    draft = Campaign.objects.get(name=DRAFT)
    assert draft.status == "draft"
    assert draft.variants.filter(origin="ai", status="proposed").count() >= 3
    # both models are trained on the demo customers and everyone has a churn score
    churn = PredictiveModel.objects.get(kind="churn", active=True)
    assert churn.metrics["roc_auc"] > 0.7
    assert ContactScore.objects.filter(kind="churn").count() == 150

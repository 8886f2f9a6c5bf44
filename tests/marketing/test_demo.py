"""The marketing demo: a believable past A/B test, a draft with AI variants, trained scores; idempotent."""

import re
from io import StringIO

import pytest
from django.apps import apps
from django.utils import timezone

from hitl_crm.accounts.roles import MARKETER
from hitl_crm.contacts.demo import seed as seed_contacts
from hitl_crm.contacts.models import Contact
from hitl_crm.learning import MODEL_FORMAT
from marketing.delivery import phase_is_approved
from marketing.demo import DRAFT, PAST
from marketing.models import Campaign, ContactScore, PredictiveModel, Segment, Send
from marketing.predictive import predict, records_for
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
    assert churn.version == 1  # seeding again did not train another version
    assert churn.params["model_format"] == MODEL_FORMAT
    assert churn.metrics["n_train"] + churn.metrics["n_test"] == 150
    assert set(ContactScore.objects.filter(kind="churn").values_list("model_version", flat=True)) == {1}
    assert ContactScore.objects.filter(kind="churn").count() == 150
    # the stored model ranks a new basic customer with many support cases above a loyal pro one
    at_risk = Contact.objects.create(
        email="at-risk@example.test", attributes={"tenure_months": 1, "plan": "basic", "support_cases": 6}
    )
    loyal = Contact.objects.create(
        email="loyal@example.test", attributes={"tenure_months": 72, "plan": "pro", "support_cases": 0}
    )
    probes = records_for(Contact.objects.filter(pk__in=[at_risk.pk, loyal.pk]), as_of=timezone.now())
    risk = dict(zip([r.contact_id for r in probes], predict(churn.params, probes), strict=True))
    assert risk[at_risk.pk] > risk[loyal.pk]

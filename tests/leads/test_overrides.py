"""A person's correction of a score: recorded with its reason, ranked by, and learned from."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from leads import learning
from leads.models import Lead, LeadScoreHistory
from leads.scoring import Scorer, leads_rescore
from leads.selectors import lead_list
from leads.services import lead_score_override, lead_score_override_clear, scoring_model_train
from leads.training import training_set
from tests.leads.conftest import make_history
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db


def test_an_override_replaces_the_score_and_keeps_the_reason(sales_rep):
    # given a lead the rules score at 100, and one they score at 0
    ScoringRuleFactory(points=10)
    lead = LeadFactory(source="Referral")
    other = LeadFactory(source="Web form")
    leads_rescore()
    # when the rep says it is cold
    lead = lead_score_override(lead=lead, score=15, reason="Budget frozen until next year", actor=sales_rep)
    # then it ranks and shows as 15 / tier D, with who and why
    assert (lead.score, lead.tier, lead.computed_score) == (15, "D", 100)
    assert (lead.override_by, lead.override_reason) == (sales_rep, "Budget frozen until next year")
    entry = LeadScoreHistory.objects.filter(lead=lead).latest("id")
    assert (entry.source, entry.score, entry.reason, entry.actor) == (
        "override",
        15,
        "Budget frozen until next year",
        sales_rep,
    )
    assert list(lead_list(user=sales_rep)) == [lead, other]  # 15 still ranks above 0
    lead_score_override(lead=other, score=60, reason="Asked for a quote today", actor=sales_rep)
    assert list(lead_list(user=sales_rep)) == [other, lead]
    # when the override is removed, the computed score is back
    lead = lead_score_override_clear(lead=lead, actor=sales_rep)
    assert (lead.score, lead.tier, lead.override_score) == (100, "A", None)


def test_an_override_needs_a_reason_and_a_valid_score(sales_rep):
    lead = LeadFactory()
    with pytest.raises(ValidationError) as error:
        lead_score_override(lead=lead, score=140, reason="", actor=sales_rep)
    assert set(error.value.message_dict) == {"score", "reason"}
    assert Lead.objects.get(pk=lead.pk).override_score is None


def test_an_override_needs_the_permission(marketer):
    lead = LeadFactory()
    with pytest.raises(PermissionDenied):
        lead_score_override(lead=lead, score=80, reason="Looks keen", actor=marketer)


def test_overrides_are_training_labels(sales_rep, settings):
    # given history where trade-show leads never appeared, and open trade-show leads a rep marked hot
    make_history(180)
    baseline = scoring_model_train(activate=False)
    hot = LeadFactory.create_batch(25, source="Trade show")
    for lead in hot:
        lead_score_override(lead=lead, score=85, reason="Met at the expo, asked for a quote", actor=sales_rep)
    cold = LeadFactory(source="Trade show", status=Lead.Status.WORKING)
    lead_score_override(lead=cold, score=10, reason="Student, no budget", actor=sales_rep)
    # when the model is retrained
    data = training_set()
    model = scoring_model_train()
    # then the overrides are in the training data with the person's verdict…
    assert data.n_overrides == 26
    assert model.metrics["n_overrides"] == 26
    labels = dict(zip(data.ids, data.y.tolist(), strict=True))
    assert labels[hot[0].pk] == 1
    assert labels[cold.pk] == 0
    # …and a new trade-show lead now scores higher than the model without them would say
    newcomer = LeadFactory(source="Trade show")

    def probability(params) -> float:
        scorer = Scorer(model=None, params=params, features=learning.features_of(params), rules=[])
        batch = scorer.load([newcomer.pk], now=timezone.now())
        return float(scorer.compute(batch)["probability"][0])

    assert probability(model.params) > probability(baseline.params) + 0.2

"""The learned model: its explanations are its arithmetic, and it is stored as JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads import learning
from leads.features import CATEGORICAL, NUMERIC, Feature
from leads.models import Lead, ScoringModel
from leads.scoring import leads_rescore
from leads.selectors import lead_explanation
from leads.services import scoring_model_train
from tests.leads.conftest import make_history
from tests.leads.factories import LeadEventFactory, LeadFactory

SOURCE = Feature("source", "field", "source", CATEGORICAL, "Lead source", missing_label="No lead source")
VISITS = Feature("visits", "attribute", "visits", NUMERIC, "Site visits", zero_label="No site visit")


@pytest.mark.django_db
def test_a_scores_factors_add_up_to_the_models_log_odds():
    # given a trained model and a scored lead with some engagement
    make_history()
    scoring_model_train()
    lead = LeadFactory(source="Referral", employees=320)
    LeadEventFactory.create_batch(3, lead=lead)
    leads_rescore(ids=[lead.pk])
    lead.refresh_from_db()
    # when
    explanation = lead_explanation(lead=lead)["model"]
    # then intercept + every feature's contribution is the logit of the stored probability
    total = explanation["intercept"] + sum(f["value"] for f in explanation["factors"])
    p = lead.model_probability
    assert total == pytest.approx(math.log(p / (1 - p)), abs=1e-4)
    assert total == pytest.approx(explanation["logit"], abs=1e-9)
    # and the factors stored with the score are exactly the largest of those contributions
    full = {f["label"]: round(f["value"], 2) for f in explanation["factors"]}
    model_factors = [f for f in lead.score_factors if f["kind"] == "model"]
    assert model_factors
    for factor in model_factors:
        assert full[factor["label"]] == factor["value"]
    strongest_up = max(explanation["factors"], key=lambda f: f["value"])
    assert lead.positive_factors[0]["label"] == strongest_up["label"]
    assert "Site visits in 30 days: 3" in full


@pytest.mark.django_db
def test_the_model_is_stored_as_json_not_a_pickle():
    make_history()
    model = scoring_model_train()
    stored = ScoringModel.objects.get(pk=model.pk)
    text = json.dumps(stored.params)  # plain JSON, round-trips
    assert set(stored.params) == {"format", "features", "encoders", "model_format", "coef", "intercept"}
    assert "Lead source" in text
    assert {"roc_auc", "accuracy", "n_train", "n_test", "positive_rate"} <= set(stored.metrics)
    assert stored.trained_at is not None


def test_plain_words_for_each_kind_of_value():
    assert learning.describe(SOURCE, "Referral") == "Lead source: Referral"
    assert learning.describe(SOURCE, "Select") == "No lead source"
    assert learning.describe(SOURCE, "") == "No lead source"
    assert learning.describe(VISITS, 0) == "No site visit"
    assert learning.describe(VISITS, "1,532") == "Site visits: 1,532"
    assert learning.describe(VISITS, None) == "Site visits: unknown"


def test_unseen_and_rare_categories_share_the_other_column():
    params = learning.fit(
        [SOURCE], [["A"] * 20 + ["B"] * 20 + ["rare"]], np.array([1] * 20 + [0] * 21), c=1.0, min_count=5, bins=0
    )
    assert params["encoders"][0]["categories"] == ["A", "B"]
    x = learning.encode(params, [["A", "B", "never seen", "Select"]])
    assert x.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]


def test_missing_numbers_take_the_median_and_flag_it():
    params = learning.fit(
        [VISITS], [[1, 2, 3, None, 100] * 10], np.array([0, 0, 1, 0, 1] * 10), c=1.0, min_count=1, bins=0
    )
    enc = params["encoders"][0]
    assert enc["median"] == 2.5
    assert enc["missing"] is True
    x = learning.encode(params, [[None]])
    assert x[0, 2] == 1.0  # the missing indicator


def test_a_fixed_seed_gives_the_same_hold_out_split():
    y = np.array([0, 1] * 50)
    a = learning.split_indices(y, holdout=0.25, seed=3)
    b = learning.split_indices(y, holdout=0.25, seed=3)
    assert all(np.array_equal(x, z) for x, z in zip(a, b, strict=True))
    assert len(a[1]) == 24
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
    assert int(y[a[1]].sum()) == 12
    assert not np.array_equal(a[1], learning.split_indices(y, holdout=0.25, seed=4)[1])


@settings(max_examples=40, deadline=None)
@given(
    cats=st.lists(st.sampled_from(["a", "b", "c", "Select", ""]), min_size=12, max_size=40),
    nums=st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1e4)), min_size=12, max_size=40),
    seed=st.integers(0, 1000),
)
def test_contributions_always_sum_to_the_logit(cats, nums, seed):
    n = min(len(cats), len(nums))
    cats, nums = cats[:n], nums[:n]
    rng = np.random.default_rng(seed)
    params = {
        "features": [SOURCE.to_dict(), VISITS.to_dict()],
        "encoders": [
            learning.fit_encoder(SOURCE, cats, min_count=2, bins=0),
            learning.fit_encoder(VISITS, nums, min_count=2, bins=4),
        ],
    }
    width = sum(learning.encoder_width(e) for e in params["encoders"])
    params["coef"] = rng.normal(size=width).tolist()
    params["intercept"] = float(rng.normal())
    x = learning.encode(params, [cats, nums])
    contrib = learning.contributions(params, x)
    assert np.allclose(contrib.sum(axis=1) + params["intercept"], learning.logit(params, x))
    for row in range(n):
        explained = learning.explain(params, [cats[row], nums[row]])
        assert explained["intercept"] + sum(f["value"] for f in explained["factors"]) == pytest.approx(
            explained["logit"]
        )


@pytest.mark.django_db
def test_no_model_below_the_minimum_of_closed_leads(settings):
    settings.HITL_CRM_LEADS_MIN_TRAINING_LEADS = 40
    LeadFactory.create_batch(12, status=Lead.Status.WON)
    LeadFactory.create_batch(12, status=Lead.Status.LOST)
    from leads.training import NotEnoughData

    with pytest.raises(NotEnoughData, match="at least 40"):
        scoring_model_train()
    assert not ScoringModel.objects.exists()

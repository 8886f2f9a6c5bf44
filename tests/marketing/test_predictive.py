"""Churn and propensity models: learned from attributes and history, stored as JSON, explained."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from hitl_crm.contacts.models import Activity, Contact
from marketing.models import ContactScore, PredictiveModel
from marketing.predictive import TrainingError
from marketing.services import contact_scores_refresh, predictive_model_train, predictive_retrain

pytestmark = pytest.mark.django_db


def customers(n: int = 240, seed: int = 7) -> list[Contact]:
    """Customers whose churn depends on tenure and plan (plus noise), like the real thing."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tenure = rng.randint(1, 60)
        plan = rng.choice(["basic", "plus", "pro"])
        risk = 2.5 - 0.09 * tenure + (1.2 if plan == "basic" else -0.8 if plan == "pro" else 0) + rng.gauss(0, 0.6)
        rows.append(
            Contact(
                first_name=f"C{i}",
                email=f"c{i}@example.test",
                attributes={
                    "tenure_months": tenure,
                    "plan": plan,
                    "monthly_spend": round(rng.uniform(20, 120), 2),
                    "churned": "Yes" if risk > 0 else "No",
                },
                created_at=timezone.now() - timedelta(days=400),
            )
        )
    return Contact.objects.bulk_create(rows)


def test_churn_model_learns_from_attributes_and_is_stored_as_json():
    customers()
    model = predictive_model_train(kind="churn")
    # then: a real hold-out evaluation was recorded …
    assert model.metrics["n_test"] == 48
    assert model.metrics["n_train"] == 192
    assert model.metrics["roc_auc"] >= 0.85
    # … the model is plain JSON (no pickle) that names what it learned …
    params = json.loads(json.dumps(model.params))
    by_name = {f["name"]: f["coef"] for f in params["features"]}
    assert by_name["tenure_months"] < 0
    assert by_name["plan=basic"] > 0 > by_name["plan=pro"]
    assert "churned" not in json.dumps(params["features"])  # the label is never a feature
    # … and it is the active version
    assert model.active
    assert model.version == 1


def test_scores_are_stored_with_the_factors_behind_them():
    contacts = customers()
    predictive_model_train(kind="churn")
    # when
    assert contact_scores_refresh(kind="churn") == len(contacts)
    # then: a long-standing pro customer is safer than a brand-new basic one, and we can say why
    by_attrs = {(c.attributes["plan"], c.attributes["tenure_months"]): c for c in contacts}
    safe = min((c for c in contacts if c.attributes["plan"] == "pro"), key=lambda c: -c.attributes["tenure_months"])
    risky = min((c for c in contacts if c.attributes["plan"] == "basic"), key=lambda c: c.attributes["tenure_months"])
    assert by_attrs
    safe_score = ContactScore.objects.get(contact=safe, kind="churn")
    risky_score = ContactScore.objects.get(contact=risky, kind="churn")
    assert risky_score.value > 0.7 > 0.3 > safe_score.value
    assert risky_score.band == "high"
    assert safe_score.band == "low"
    top = {f["feature"]: f for f in risky_score.factors}
    assert "tenure_months" in top
    assert top["tenure_months"]["effect"] > 0
    assert top["tenure_months"]["value"] == risky.attributes["tenure_months"]
    # rescoring updates in place: one score per contact and kind
    contact_scores_refresh(kind="churn")
    assert ContactScore.objects.filter(kind="churn").count() == len(contacts)


def test_retraining_makes_a_new_active_version():
    customers()
    first = predictive_model_train(kind="churn")
    second = predictive_model_train(kind="churn")
    first.refresh_from_db()
    assert (first.active, second.active, second.version) == (False, True, 2)
    assert PredictiveModel.objects.filter(kind="churn", active=True).count() == 1


def test_propensity_is_learned_from_what_happened_after_the_cutoff():
    # given: regular buyers (a purchase every month) and occasional ones; the label is a purchase in the last 30 days
    now = timezone.now()
    rng = random.Random(3)
    contacts = customers(n=200)
    regular = set(rng.sample([c.pk for c in contacts], 80))
    activities = []
    for contact in contacts:
        months = range(6) if contact.pk in regular else [m for m in range(6) if rng.random() < 0.1]
        for month in months:
            if month == 0 and contact.pk in regular and rng.random() < 0.1:
                continue  # even regulars skip a month now and then
            activities.append(
                Activity(
                    contact=contact, kind="purchase", summary="Order", occurred_at=now - timedelta(days=30 * month + 5)
                )
            )
    Activity.objects.bulk_create(activities)
    # when
    model = predictive_model_train(kind="propensity", now=now)
    contact_scores_refresh(kind="propensity", now=now)
    # then: buying history before the cutoff predicts buying after it
    assert model.params["label"] == {"type": "purchase_within_days", "days": 30}
    assert model.metrics["roc_auc"] >= 0.8
    scores = dict(ContactScore.objects.filter(kind="propensity").values_list("contact_id", "value"))
    regular_mean = sum(scores[pk] for pk in regular) / len(regular)
    other_mean = sum(v for pk, v in scores.items() if pk not in regular) / (len(scores) - len(regular))
    assert regular_mean > other_mean + 0.3


def test_too_little_labelled_data_is_refused_with_a_reason():
    customers(n=12)
    with pytest.raises(TrainingError, match="at least 30 labelled contacts"):
        predictive_model_train(kind="churn")
    assert not PredictiveModel.objects.exists()


def test_the_nightly_retrain_keeps_going_when_one_model_cannot_train():
    customers()
    report = predictive_retrain()
    assert report["churn"]["scored"] == 240
    assert report["churn"]["roc_auc"] >= 0.85
    assert "error" in report["propensity"]  # no purchase history at all: nothing to learn

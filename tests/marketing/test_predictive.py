"""Churn and propensity models: learned from attributes and history, stored as JSON, explained."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.learning import MODEL_FORMAT
from marketing.models import ContactScore, PredictiveModel
from marketing.predictive import TrainingError, predict, records_for
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
    # then: a hold-out evaluation on the rows it did not train on was recorded …
    assert model.metrics["n_test"] == 48
    assert model.metrics["n_train"] == 192
    assert model.params["label"] == {"type": "attribute", "key": "churned"}
    # … the model is plain JSON (no pickle) in the current format, and names what it learned …
    stored = PredictiveModel.objects.get(pk=model.pk)
    params = json.loads(json.dumps(stored.params))
    assert params["model_format"] == MODEL_FORMAT
    by_name = {f["name"]: f["coef"] for f in params["features"]}
    assert by_name["tenure_months"] < 0
    assert by_name["plan=basic"] > 0 > by_name["plan=pro"]
    assert "churned" not in json.dumps(params["features"])  # the label is never a feature
    # … the JSON alone scores a new basic customer of two months above a pro customer of five years …
    newcomer = Contact.objects.create(email="new@example.test", attributes={"tenure_months": 2, "plan": "basic"})
    loyal = Contact.objects.create(email="loyal@example.test", attributes={"tenure_months": 58, "plan": "pro"})
    probes = records_for(Contact.objects.filter(pk__in=[newcomer.pk, loyal.pk]), as_of=timezone.now())
    risk = dict(zip([r.contact_id for r in probes], predict(params, probes), strict=True))
    assert risk[newcomer.pk] > risk[loyal.pk]
    # … and it is the active version
    assert stored.active
    assert stored.version == 1


def test_scores_are_stored_with_the_factors_behind_them():
    contacts = customers()
    predictive_model_train(kind="churn")
    # when
    assert contact_scores_refresh(kind="churn") == len(contacts)
    # then: a long-standing pro customer is safer than a brand-new basic one, and we can say why
    safe = min((c for c in contacts if c.attributes["plan"] == "pro"), key=lambda c: -c.attributes["tenure_months"])
    risky = min((c for c in contacts if c.attributes["plan"] == "basic"), key=lambda c: c.attributes["tenure_months"])
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
    assert model.metrics["n_train"] + model.metrics["n_test"] == len(contacts)
    scores = dict(ContactScore.objects.filter(kind="propensity").values_list("contact_id", "value"))
    assert set(scores) == {c.pk for c in contacts}
    # a customer who bought in each of the last six months ranks above one who never bought
    steady = max(regular, key=lambda pk: Activity.objects.filter(contact_id=pk).count())
    never = next(c.pk for c in contacts if c.pk not in regular and not Activity.objects.filter(contact=c).exists())
    assert Activity.objects.filter(contact_id=steady).count() == 6
    assert scores[steady] > scores[never]
    # and the regulars, as a group, rank above the occasional buyers
    regular_mean = sum(scores[pk] for pk in regular) / len(regular)
    other_mean = sum(v for pk, v in scores.items() if pk not in regular) / (len(scores) - len(regular))
    assert regular_mean > other_mean


def test_too_little_labelled_data_is_refused_with_a_reason():
    customers(n=12)
    with pytest.raises(TrainingError, match="at least 30 labelled contacts"):
        predictive_model_train(kind="churn")
    assert not PredictiveModel.objects.exists()


def test_the_nightly_retrain_keeps_going_when_one_model_cannot_train():
    customers()
    report = predictive_retrain()
    # then: churn was trained as version 1, made active, and every customer scored with it …
    churn = PredictiveModel.objects.get(kind="churn", active=True)
    assert report["churn"]["version"] == churn.version == 1
    assert report["churn"]["scored"] == 240
    assert ContactScore.objects.filter(kind="churn", model_version=churn.version).count() == 240
    # … while propensity, with no purchase history at all, says why and stores no model or score
    assert "(0 positive, 240 negative)" in report["propensity"]["error"]
    assert not PredictiveModel.objects.filter(kind="propensity").exists()
    assert not ContactScore.objects.filter(kind="propensity").exists()

"""Calibrated confidence: a 0.85 means about 85 % right, measured and stored with the model."""

import json

import numpy as np
import pytest

from hitl_crm.ai.engine import run
from hitl_crm.ai.models import TrainedModel
from hitl_crm.ai.nlp.calibration import (
    Calibration,
    calibrate_on_holdout,
    expected_calibration_error,
    fit_confidence_calibration,
    fit_temperature,
    softmax,
)
from hitl_crm.ai.nlp.intent import IntentModel
from hitl_crm.ai.services import intent_example_add, intent_model_train
from tests.ai.synthetic import examples


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    # 10 items at 0.9 of which 6 are right: |0.6 - 0.9| = 0.3; 10 at 0.55, 5 right: 0.05
    conf = [0.9] * 10 + [0.55] * 10
    right = [True] * 6 + [False] * 4 + [True] * 5 + [False] * 5
    assert expected_calibration_error(conf, right) == pytest.approx((10 * 0.3 + 10 * 0.05) / 20)
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([], []) == 0.0


def _overconfident_logits(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a model that is right ~70 % of the time but says ~99 %."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    guess = np.where(rng.random(n) < 0.7, labels, rng.integers(0, classes, n))
    logits = rng.normal(0, 1, (n, classes))
    logits[np.arange(n), guess] += 8.0
    return logits, labels


def test_temperature_scaling_makes_an_overconfident_model_honest_without_changing_its_answers():
    logits, labels = _overconfident_logits(2000, 5, seed=1)
    raw = softmax(logits)
    assert raw.max(axis=1).mean() > 0.95
    t = fit_temperature(logits, labels)
    assert t > 2  # the logits are shrunk
    scaled = softmax(logits, t)
    assert (scaled.argmax(axis=1) == raw.argmax(axis=1)).all()
    right = raw.argmax(axis=1) == labels
    assert (
        expected_calibration_error(scaled.max(axis=1), right)
        < 0.05
        < expected_calibration_error(raw.max(axis=1), right)
    )
    # among items the calibrated model gives >= 0.85, accuracy is about what it says, not 70 %
    report = calibrate_on_holdout(logits, labels, seed=3)
    assert report.method == "temperature"
    assert report.fitted_on == 2000
    assert report.ece_before > 0.2
    assert report.ece_after < report.ece_before / 3


def test_a_skill_with_one_confidence_per_item_can_calibrate_it():
    rng = np.random.default_rng(2)
    said = rng.uniform(0.8, 1.0, 3000)  # a skill that always says 80-100 %
    right = rng.random(3000) < (said - 0.3)  # but is right 50-70 % of the time
    calibration = fit_confidence_calibration(said, right)
    assert calibration.ece_before > 0.2
    assert calibration.ece_after < 0.05
    assert 0.45 < calibration.apply(0.85) < 0.65
    assert calibration.apply(0.95) > calibration.apply(0.85)  # order is kept
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.apply(0.9) == pytest.approx(calibration.apply(0.9))
    assert Calibration.from_dict(None).apply(0.42) == 0.42
    with pytest.raises(ValueError, match="temperature"):
        Calibration.from_dict({"method": "temperature", "temperature": -1})


@pytest.mark.django_db
def test_training_calibrates_on_the_holdout_records_it_and_triage_serves_the_calibrated_confidence():
    for text, intent, category in examples(per_intent=15):
        intent_example_add(text=text, intent=intent, category=category)
    model = intent_model_train()
    cal = model.metrics["calibration"]
    assert cal["method"] == "temperature"
    assert cal["fitted_on"] == model.metrics["holdout"]["size"]
    assert cal["temperature"] != 1.0
    assert model.params["calibration"] == cal  # recorded with the model version
    served = IntentModel.from_params(TrainedModel.objects.get(pk=model.pk).params)
    text = "where is my parcel 4411, it has not arrived"
    expected = float(softmax(served.logits(text), cal["temperature"]).max())
    assert float(served.raw_proba(text).max()) != pytest.approx(expected, abs=1e-3)
    result = run("triage", {"text": text})
    assert result.output["intent_confidence"] == pytest.approx(expected, abs=1e-4)
    assert result.confidence == pytest.approx(expected, abs=1e-4)


@pytest.mark.django_db
def test_train_intents_prints_ece_before_and_after_and_the_model_figures(tmp_path, capsys):
    from django.core.management import call_command

    from tests.ai.synthetic import write_csv

    path = write_csv(tmp_path / "labelled.csv", per_intent=15)
    call_command("train_intents", "--csv", str(path), "--text-col", "instruction", "--category-col", "category")
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("Calibration"))
    assert "ECE (10 bins)" in line
    assert "before" in line
    assert "after" in line
    assert "MB JSON" in out
    assert "load" in out
    assert "Training" in out


@pytest.mark.django_db
def test_without_a_holdout_the_model_serves_raw_probabilities_and_says_so(capsys):
    for text, intent, category in examples(per_intent=10):
        intent_example_add(text=text, intent=intent, category=category)
    model = intent_model_train(holdout=0)
    assert "calibration" not in model.metrics
    assert model.params["calibration"]["method"] == "none"

"""The shared logistic model: fitted by scikit-learn, stored as JSON, scored and explained by numpy."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from hitl_crm.learning import (
    MODEL_FORMAT,
    LogisticModel,
    ModelFormatError,
    choose_c,
    roc_auc,
    stratified_split,
)


def dataset(n: int = 400, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Five columns: two informative numbers, a one-hot of three values, and noise."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, 2))
    category = rng.integers(0, 3, size=n)
    one_hot = np.eye(3)[category][:, :2]
    noise = rng.normal(size=(n, 1))
    x = np.hstack([numbers, one_hot, noise])
    logits = 1.5 * numbers[:, 0] - 0.8 * numbers[:, 1] + 1.0 * one_hot[:, 0] - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    return x, y


def test_a_model_read_back_from_json_predicts_what_scikit_learn_predicts():
    # given
    x, y = dataset()
    reference = LogisticRegression(C=0.5, max_iter=5000).fit(x, y)
    # when fitted, stored as JSON text and read back
    model = LogisticModel.fit(x, y, c=0.5)
    stored = json.loads(json.dumps(model.to_dict()))
    restored = LogisticModel.from_dict(stored)
    # then the stored document is plain numbers, and the predictions are scikit-learn's
    assert stored["model_format"] == MODEL_FORMAT
    assert len(stored["coef"]) == x.shape[1]
    assert restored == model
    assert np.allclose(restored.predict_proba(x), reference.predict_proba(x)[:, 1], atol=1e-9)
    assert np.allclose(restored.logit(x), reference.decision_function(x), atol=1e-9)


def test_sample_weights_reach_the_fit():
    x, y = dataset()
    weights = np.where(y == 1, 3.0, 1.0)
    reference = LogisticRegression(C=1.0, max_iter=5000).fit(x, y, sample_weight=weights)
    model = LogisticModel.fit(x, y, c=1.0, sample_weight=weights)
    assert np.allclose(model.predict_proba(x), reference.predict_proba(x)[:, 1], atol=1e-9)


def test_factors_add_up_to_the_logit_per_column_and_per_feature():
    # given a model and the columns of each feature (the one-hot pair is one feature)
    x, y = dataset()
    model = LogisticModel.fit(x, y)
    groups = [[0], [1], [2, 3], [4]]
    # when
    per_column = model.contributions(x)
    per_feature = model.contributions(x, groups)
    # then
    assert per_column.shape == x.shape
    assert per_feature.shape == (len(x), 4)
    assert np.allclose(per_column.sum(axis=1) + model.intercept, model.logit(x))
    assert np.allclose(per_feature.sum(axis=1) + model.intercept, model.logit(x))
    assert np.allclose(per_feature[:, 2], per_column[:, 2] + per_column[:, 3])


def test_groups_that_are_not_consecutive_or_are_empty_still_add_up():
    x, y = dataset()
    model = LogisticModel.fit(x, y)
    scattered = model.contributions(x, [[4, 0], [], [1, 3, 2]])
    assert np.allclose(scattered[:, 1], 0.0)
    assert np.allclose(scattered.sum(axis=1) + model.intercept, model.logit(x))
    per_column = model.contributions(x)
    with_empty = model.contributions(x, [[0, 1], [], [2, 3, 4]])  # consecutive, one empty
    expected = np.c_[per_column[:, :2].sum(axis=1), np.zeros(len(x)), per_column[:, 2:].sum(axis=1)]
    assert np.allclose(with_empty, expected)


def test_documents_without_a_format_are_the_first_layout_and_newer_ones_are_refused():
    assert LogisticModel.from_dict({"coef": [1, -2], "intercept": 0.5, "features": ["kept by the app"]}) == (
        LogisticModel((1.0, -2.0), 0.5)
    )
    with pytest.raises(ModelFormatError, match="newer"):
        LogisticModel.from_dict({"model_format": MODEL_FORMAT + 1, "coef": [1.0], "intercept": 0.0})
    with pytest.raises(ModelFormatError, match="Not a stored logistic model"):
        LogisticModel.from_dict({"coef": [1.0]})
    with pytest.raises(ModelFormatError, match="finite"):
        LogisticModel.from_dict({"coef": [float("nan")], "intercept": 0.0})


def test_extreme_logits_give_probabilities_not_overflow():
    model = LogisticModel((100.0,), 0.0)
    p = model.predict_proba(np.array([[10.0], [-10.0]]))
    assert p[0] == pytest.approx(1.0)
    assert p[1] == pytest.approx(0.0)
    assert np.all(np.isfinite(p))


def test_split_is_stratified_and_reproducible():
    _, y = dataset()
    train, test = stratified_split(y, holdout=0.25, seed=3)
    again = stratified_split(y, holdout=0.25, seed=3)
    assert np.array_equal(train, again[0])
    assert np.array_equal(test, again[1])
    assert set(train).isdisjoint(test)
    assert len(train) + len(test) == len(y)
    assert abs(y[test].mean() - y.mean()) < 0.03


def test_roc_auc_and_the_cross_validated_strength():
    x, y = dataset()
    model = LogisticModel.fit(x, y)
    assert roc_auc(y, model.predict_proba(x)) > 0.75
    assert roc_auc(np.ones(5), np.arange(5)) is None
    assert choose_c(x, y, (0.01, 1.0)) in (0.01, 1.0)

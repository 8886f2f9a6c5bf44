"""The learned part of the score: lead features encoded for a logistic regression, explained in plain words.

The model itself (fitting, JSON coefficients, probabilities, per-column contributions) is the
kernel's :class:`hitl_crm.learning.LogisticModel`; this module turns leads into its columns and
its contributions back into sentences. Nothing here touches the database. ``params`` is
everything needed to score and explain (never a pickle)::

    {"format": 1,
     "features": [Feature.to_dict(), …],
     "encoders": [{"type": "categorical", "categories": [...], "missing": true, "other": true}
                  | {"type": "numeric", "median", "mean", "std", "log_mean", "log_std", "missing", "edges"}, …],
     "model_format": 1, "coef": [...], "intercept": float}   # LogisticModel.to_dict()

Design matrix, per feature, in this order:

- categorical: one column per category seen at least ``MIN_CATEGORY_COUNT`` times, then
  "(missing)" (empty, "Select", …) and "(other)" (rarer or unseen values) when training had them;
- numeric: the standardised value, the standardised ``log1p`` of it (skewed counts such as time
  on site), a "missing" indicator (missing values take the training median), and one column per
  quantile bin (so a linear model can bend).

The contribution of a feature to the log-odds is the sum of ``coef · x`` over its columns;
the contributions of all features plus the intercept are exactly the logit of the probability
(:func:`contributions`), which is what each score's factors are taken from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from hitl_crm.learning import LogisticModel, roc_auc, stratified_split
from leads.conf import app_settings
from leads.features import (
    CATEGORICAL,
    NUMERIC,
    Column,
    Feature,
    category_counts,
    is_missing,
    per_distinct_value,
    to_number,
)

FORMAT = 1
ROWS_PER_BIN = 100
MISSING = "(missing)"
OTHER = "(other)"


# --- encoders --------------------------------------------------------------------------------


def _category(value: Any, missing: frozenset[str] | None = None) -> str:
    if is_missing(value, missing):
        return MISSING
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _numbers(values: Column) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return values.astype(float, copy=False)
    missing = app_settings.MISSING_VALUES
    return np.fromiter(
        (math.nan if is_missing(v, missing) else to_number(v) for v in values), dtype=float, count=len(values)
    )


def _safe_std(values: np.ndarray) -> float:
    std = float(np.std(values)) if values.size else 0.0
    return std if std > 1e-12 else 1.0


def fit_encoder(feature: Feature, values: Column, *, min_count: int, bins: int) -> dict[str, Any]:
    if feature.kind == CATEGORICAL:
        missing = app_settings.MISSING_VALUES
        normalised = [_category(v, missing) for v in values]
        counts = category_counts(v for v in normalised if v != MISSING)
        categories = sorted(c for c, n in counts.items() if n >= min_count)
        kept = set(categories)
        return {
            "type": CATEGORICAL,
            "categories": categories,
            "missing": MISSING in normalised,
            "other": any(v != MISSING and v not in kept for v in normalised),
        }
    numbers = _numbers(values)
    missing = np.isnan(numbers)
    given = numbers[~missing]
    median = float(np.median(given)) if given.size else 0.0
    filled = np.where(missing, median, numbers)
    logs = np.log1p(np.clip(filled, 0, None))
    edges: list[float] = []
    if bins > 1 and given.size:
        quantiles = np.quantile(filled, np.linspace(0, 1, bins + 1)[1:-1])
        edges = [float(e) for e in np.unique(quantiles)]
    return {
        "type": NUMERIC,
        "median": median,
        "mean": float(np.mean(filled)) if filled.size else 0.0,
        "std": _safe_std(filled),
        "log_mean": float(np.mean(logs)) if logs.size else 0.0,
        "log_std": _safe_std(logs),
        "missing": bool(missing.any()),
        "edges": edges,
    }


def encoder_width(encoder: dict[str, Any]) -> int:
    if encoder["type"] == CATEGORICAL:
        return len(encoder["categories"]) + int(encoder["missing"]) + int(encoder["other"])
    return 2 + int(encoder["missing"]) + (len(encoder["edges"]) + 1 if encoder["edges"] else 0)


def _encode_feature(encoder: dict[str, Any], values: Column, n: int) -> np.ndarray:
    block = np.zeros((n, encoder_width(encoder)))
    if n == 0:
        return block
    rows = np.arange(n)
    if encoder["type"] == CATEGORICAL:
        categories = encoder["categories"]
        index = {c: i for i, c in enumerate(categories)}
        missing_col = len(categories) if encoder["missing"] else -1
        other_col = len(categories) + int(encoder["missing"]) if encoder["other"] else -1
        missing = app_settings.MISSING_VALUES

        @per_distinct_value
        def column(value: Any) -> int:
            category = _category(value, missing)
            return missing_col if category == MISSING else index.get(category, other_col)

        cols = np.fromiter((column(v) for v in values), dtype=np.int64, count=n)
        hit = cols >= 0
        block[rows[hit], cols[hit]] = 1.0
        return block
    numbers = _numbers(values)
    missing = np.isnan(numbers)
    filled = np.where(missing, encoder["median"], numbers)
    block[:, 0] = (filled - encoder["mean"]) / encoder["std"]
    block[:, 1] = (np.log1p(np.clip(filled, 0, None)) - encoder["log_mean"]) / encoder["log_std"]
    col = 2
    if encoder["missing"]:
        block[:, col] = missing
        col += 1
    if encoder["edges"]:
        which = np.searchsorted(np.asarray(encoder["edges"]), filled, side="right")
        block[rows, col + which] = 1.0
    return block


def features_of(params: dict[str, Any]) -> list[Feature]:
    return [Feature.from_dict(f) for f in params["features"]]


def encode(params: dict[str, Any], raw: Sequence[Column]) -> np.ndarray:
    """The design matrix for raw feature columns (``raw[i]`` holds feature ``i`` for every row)."""
    n = len(raw[0]) if raw else 0
    blocks = [_encode_feature(enc, values, n) for enc, values in zip(params["encoders"], raw, strict=True)]
    return np.hstack(blocks) if blocks else np.zeros((n, 0))


def _groups(params: dict[str, Any]) -> list[range]:
    """The model columns of each feature, in order."""
    groups, start = [], 0
    for enc in params["encoders"]:
        width = encoder_width(enc)
        groups.append(range(start, start + width))
        start += width
    return groups


def model_of(params: dict[str, Any]) -> LogisticModel:
    """The stored model's coefficients (``params`` holds them next to the encoders)."""
    return LogisticModel.from_dict(params)


# --- fitting ---------------------------------------------------------------------------------


def fit(
    features: Sequence[Feature],
    raw: Sequence[Column],
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    c: float,
    min_count: int,
    bins: int,
) -> dict[str, Any]:
    """Fit encoders and an L2 logistic regression; return JSON-able params."""
    encoders = [fit_encoder(f, values, min_count=min_count, bins=bins) for f, values in zip(features, raw, strict=True)]
    params: dict[str, Any] = {"format": FORMAT, "features": [f.to_dict() for f in features], "encoders": encoders}
    x = encode(params, raw)
    params.update(LogisticModel.fit(x, y, c=c, sample_weight=weights).to_dict())
    return params


@dataclass(frozen=True)
class Evaluation:
    params: dict[str, Any]
    metrics: dict[str, Any]


split_indices = stratified_split
"""A stratified split (same seed, same rows) of row indices into train and hold-out."""


def train_and_evaluate(
    features: Sequence[Feature],
    raw: Sequence[Column],
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    holdout: float,
    seed: int,
    c: float,
    min_count: int,
    bins: int,
) -> Evaluation:
    """Fit on a stratified training split; measure ROC AUC and accuracy (threshold 0.5) on the rest.

    The stored parameters are the ones measured: the model fit on the training split.
    """
    y = np.asarray(y, dtype=int)
    train, test = split_indices(y, holdout=holdout, seed=seed)

    def take(rows: np.ndarray) -> list[list[Any]]:
        return [[values[i] for i in rows] if not isinstance(values, np.ndarray) else values[rows] for values in raw]

    w = np.asarray(weights, dtype=float) if weights is not None else np.ones(len(y))
    # Quantile bins need data: at least ROWS_PER_BIN training rows for each.
    bins = min(bins, len(train) // ROWS_PER_BIN)
    params = fit(features, take(train), y[train], w[train], c=c, min_count=min_count, bins=bins)
    p = probability(params, encode(params, take(test))) if len(test) else np.array([])
    metrics = {
        "roc_auc": round(auc, 4) if (auc := roc_auc(y[test], p)) is not None else None,
        "accuracy": round(float(np.mean((p >= 0.5) == y[test])), 4) if len(test) else None,
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "positive_rate": round(float(np.mean(y)), 4) if len(y) else None,
        "holdout": holdout,
        "seed": seed,
        "columns": int(len(params["coef"])),
        "bins": bins,
    }
    return Evaluation(params, metrics)


# --- scoring and explaining ------------------------------------------------------------------


def logit(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return model_of(params).logit(x)


def probability(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return model_of(params).predict_proba(x)


def contributions(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Per-feature log-odds contributions (rows × features); each row sums to ``logit − intercept``."""
    return model_of(params).contributions(x, _groups(params))


def fmt_number(value: float) -> str:
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def describe(feature: Feature, value: Any, missing: frozenset[str] | None = None) -> str:
    """A feature's value in plain words: "Lead source: Referral", "No site visit in 30 days"."""
    if feature.kind == CATEGORICAL:
        category = _category(value, missing)
        if category == MISSING:
            return feature.missing_label or f"No {feature.label.lower()} given"
        return f"{feature.label}: {category}"
    number = math.nan if is_missing(value, missing) else to_number(value)
    if math.isnan(number):
        return feature.missing_label or f"{feature.label}: unknown"
    if number == 0 and feature.zero_label:
        return feature.zero_label
    return f"{feature.label}: {fmt_number(number)}"


def top_factors(
    features: Sequence[Feature],
    raw: Sequence[Column],
    contrib: np.ndarray,
    *,
    k: int,
    min_abs: float = 0.01,
) -> list[list[dict[str, Any]]]:
    """For each row, up to ``k`` factors pushing the score up and ``k`` pulling it down.

    Values repeat a lot (a source, a count of visits), so each (feature, value) is put into
    words once per call.
    """
    n, m = contrib.shape
    if n == 0 or m == 0:
        return [[] for _ in range(n)]
    k = min(k, m)
    order = np.argsort(contrib, axis=1)  # ascending: most negative first
    picks = np.concatenate([order[:, ::-1][:, :k], order[:, :k]], axis=1)
    picked = np.take_along_axis(contrib, picks, axis=1)
    keep = np.concatenate([picked[:, :k] >= min_abs, picked[:, k:] <= -min_abs], axis=1)
    rounded = np.round(picked, 2).tolist()
    missing = app_settings.MISSING_VALUES
    columns = [values.tolist() if isinstance(values, np.ndarray) else values for values in raw]
    describers = [per_distinct_value(partial(describe, f, missing=missing)) for f in features]

    def label(j: int, row: int) -> str:
        return describers[j](columns[j][row])

    return [
        [{"label": label(j, row), "value": v, "kind": "model"} for j, ok, v in zip(js, oks, vs, strict=True) if ok]
        for row, (js, oks, vs) in enumerate(zip(picks.tolist(), keep.tolist(), rounded, strict=True))
    ]


def explain(params: dict[str, Any], raw_row: Sequence[Any]) -> dict[str, Any]:
    """Every feature's contribution for one lead, the intercept, and the logit they add up to."""
    features = features_of(params)
    raw = [[value] for value in raw_row]
    x = encode(params, raw)
    contrib = contributions(params, x)[0]
    return {
        "intercept": float(params["intercept"]),
        "logit": float(logit(params, x)[0]),
        "probability": float(probability(params, x)[0]),
        "factors": [
            {"feature": f.name, "label": describe(f, raw_row[i]), "value": float(contrib[i])}
            for i, f in enumerate(features)
        ],
    }

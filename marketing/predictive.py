"""Churn risk and next-purchase propensity: logistic regression over what the CRM knows.

Features, per contact:

- custom ``attributes``: numbers (as is and ``log1p`` for non-negative ones), yes/no flags,
  and text with few distinct values (one-hot);
- the account: tier, industry, country (one-hot) and ``log1p(employees)``;
- the timeline: ``log1p`` of the count of each activity kind in the last 30 and 90 days, and
  days since the last activity (capped at a year).

Missing values take the training median; every column is standardised with the training
mean and standard deviation; columns that never vary are dropped. The model is the kernel's
:class:`hitl_crm.learning.LogisticModel`, stored as JSON — the feature spec, the scaling and
each feature's coefficient next to it — so scoring needs only numpy, and an admin can read
what the model learned. Nothing is pickled.

Labels: churn comes from a contact attribute (``churned``: yes/no by default). Propensity is
learned the honest way round: features as they were ``horizon`` days ago, label = a purchase
in the ``horizon`` days since; scoring then uses today's features to predict the next ones.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Max, Q, QuerySet
from threadpoolctl import threadpool_limits

from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.learning import MODEL_FORMAT, LogisticModel, choose_c
from hitl_crm.learning import roc_auc as _roc_auc

ACTIVITY_KINDS = ("email_in", "email_out", "call", "meeting", "form", "site_visit", "purchase", "case")
MAX_CATEGORIES = 30
RECENCY_CAP_DAYS = 365.0
MIN_LABELLED = 30
MIN_PER_CLASS = 5
TRUE_WORDS = {"1", "true", "yes", "y", "churned"}
FALSE_WORDS = {"0", "false", "no", "n"}


class TrainingError(Exception):
    """Not enough (or not varied enough) labelled data to train; the message says what is missing."""


@dataclass
class Record:
    """What one contact looks like to the model, before vectorising."""

    contact_id: int
    attributes: dict[str, Any]
    account: dict[str, Any]
    activity: dict[str, tuple[int, int]]
    recency_days: float | None


def label_value(raw: Any) -> int | None:
    """1, 0 or None (unlabelled) from the many ways people write yes/no."""
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return int(raw)
    text = str(raw).strip().lower() if raw is not None else ""
    if text in TRUE_WORDS:
        return 1
    if text in FALSE_WORDS:
        return 0
    return None


def records_for(contacts: QuerySet[Contact], *, as_of: datetime, exclude: tuple[str, ...] = ()) -> list[Record]:
    """One :class:`Record` per contact, with timeline features as of ``as_of`` (3 queries)."""
    rows = list(
        contacts.order_by("pk").values(
            "pk", "attributes", "account__tier", "account__industry", "account__country", "account__employees"
        )
    )
    since = as_of - timedelta(days=90)
    recent = since + timedelta(days=60)
    counts: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    activity = Activity.objects.filter(contact__in=contacts.values("pk"), occurred_at__lt=as_of)
    for tally in (
        activity.filter(occurred_at__gte=since, kind__in=ACTIVITY_KINDS)
        .values("contact_id", "kind")
        .annotate(n30=Count("pk", filter=Q(occurred_at__gte=recent)), n90=Count("pk"))
        .order_by()
    ):
        counts[tally["contact_id"]][tally["kind"]] = (tally["n30"], tally["n90"])
    last = dict(
        activity.values("contact_id").annotate(last=Max("occurred_at")).values_list("contact_id", "last").order_by()
    )
    skip = set(exclude)
    out = []
    for row in rows:
        seen = last.get(row["pk"])
        out.append(
            Record(
                contact_id=row["pk"],
                attributes={k: v for k, v in (row["attributes"] or {}).items() if k not in skip},
                account={
                    "tier": row["account__tier"],
                    "industry": row["account__industry"],
                    "country": row["account__country"],
                    "employees": row["account__employees"],
                },
                activity=counts.get(row["pk"], {}),
                recency_days=(as_of - seen).total_seconds() / 86400 if seen else None,
            )
        )
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _raw(feature: dict[str, Any], record: Record) -> float:
    """The untransformed value of one feature for one record (NaN when missing)."""
    source = feature["source"]  # every source but "recency" names its key
    if source == "attr":
        value = record.attributes.get(feature["key"])
    elif source == "account":
        value = record.account.get(feature["key"])
    elif source == "activity":
        pair = record.activity.get(feature["key"], (0, 0))
        value = pair[0] if feature["window"] == 30 else pair[1]
    else:  # recency
        value = RECENCY_CAP_DAYS if record.recency_days is None else min(record.recency_days, RECENCY_CAP_DAYS)
    if feature["type"] == "cat":
        return 1.0 if value is not None and str(value) == feature["value"] else 0.0
    number = _number(value)
    if number is None:
        return math.nan
    return math.log1p(max(number, 0.0)) if feature["type"] == "log" else number


def matrix(features: list[dict[str, Any]], records: list[Record], *, fill: bool = True) -> np.ndarray:
    """Feature matrix; missing values take each feature's ``fill`` (or stay NaN with ``fill=False``)."""
    data = np.array([[_raw(f, r) for f in features] for r in records], dtype=float).reshape(len(records), len(features))
    missing = np.isnan(data)
    if fill and missing.any():
        fills = np.array([f.get("fill", 0.0) for f in features], dtype=float)
        data[missing] = np.take(fills, np.nonzero(missing)[1])
    return data


# Complex by nature: one pass types every attribute, then one branch per feature kind; split, it reads worse.
def candidate_features(records: list[Record]) -> list[dict[str, Any]]:  # noqa: C901
    """Every feature the data could support (before dropping constant columns)."""
    features: list[dict[str, Any]] = []
    kinds: dict[str, set[str]] = defaultdict(set)
    numbers: dict[str, list[float]] = defaultdict(list)
    texts: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for key, value in record.attributes.items():
            number = _number(value)
            if number is not None:
                kinds[key].add("num")
                numbers[key].append(number)
            elif isinstance(value, str) and value.strip():
                kinds[key].add("text")
                texts[key].add(value)
            elif value is not None:
                kinds[key].add("other")
    for key in sorted(kinds):
        if kinds[key] == {"num"}:
            features.append({"name": key, "group": key, "source": "attr", "key": key, "type": "num"})
            if min(numbers[key]) >= 0:
                features.append({"name": f"log({key})", "group": key, "source": "attr", "key": key, "type": "log"})
        elif kinds[key] == {"text"} and len(texts[key]) <= MAX_CATEGORIES:
            features += [
                {"name": f"{key}={value}", "group": key, "source": "attr", "key": key, "type": "cat", "value": value}
                for value in sorted(texts[key])
            ]
    for key in ("tier", "industry", "country"):
        values = sorted({str(r.account[key]) for r in records if r.account.get(key)})
        if len(values) <= MAX_CATEGORIES:
            features += [
                {
                    "name": f"account {key}={v}",
                    "group": f"account {key}",
                    "source": "account",
                    "key": key,
                    "type": "cat",
                    "value": v,
                }
                for v in values
            ]
    features.append(
        {
            "name": "log(account employees)",
            "group": "account employees",
            "source": "account",
            "key": "employees",
            "type": "log",
        }
    )
    for kind in ACTIVITY_KINDS:
        for window in (30, 90):
            features.append(
                {
                    "name": f"{kind} in {window}d",
                    "group": f"{kind} activity",
                    "source": "activity",
                    "key": kind,
                    "window": window,
                    "type": "log",
                }
            )
    features.append({"name": "days since last activity", "group": "recency", "source": "recency", "type": "num"})
    return features


CS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def fit_spec(records: list[Record], labels: np.ndarray, *, c: float | None = None) -> dict[str, Any]:
    """Fit on ``records``/``labels``; return the JSON-ready model (features with scaling, coefficients).

    Without ``c`` the L2 strength is chosen by 5-fold cross-validated ROC AUC on these records
    only (small CRMs need strong regularisation, large ones little).
    """
    features = candidate_features(records)
    raw = matrix(features, records, fill=False)
    present = ~np.isnan(raw)
    for index, feature in enumerate(features):
        column = raw[present[:, index], index]
        feature["fill"] = float(np.median(column)) if column.size else 0.0
    data = matrix(features, records)
    mean, scale = data.mean(axis=0), data.std(axis=0)
    keep = scale > 1e-12
    features = [f for f, k in zip(features, keep, strict=True) if k]
    mean, scale, data = mean[keep], scale[keep], data[:, keep]
    if not features:
        raise TrainingError("No feature varies between contacts, so there is nothing to learn from.")
    z = (data - mean) / scale
    # Small dense problems: BLAS threads only fight each other (8× slower on a busy 2-core box).
    with threadpool_limits(limits=1):
        if c is None:
            c = choose_c(z, labels, CS)
        model = LogisticModel.fit(z, labels, c=c)
    for feature, m, s, w in zip(features, mean, scale, model.coef, strict=True):
        feature.update(mean=float(m), scale=float(s), coef=float(w))
    return {"features": features, "intercept": model.intercept, "c": c, "model_format": MODEL_FORMAT}


def model_of(params: dict[str, Any]) -> LogisticModel:
    """The stored model: each feature carries its own coefficient (readable next to its scaling)."""
    return LogisticModel.from_dict(
        {
            "model_format": params.get("model_format", 1),
            "coef": [f["coef"] for f in params["features"]],
            "intercept": params["intercept"],
        }
    )


def standardised(params: dict[str, Any], records: list[Record]) -> np.ndarray:
    features = params["features"]
    data = matrix(features, records)
    mean = np.array([f["mean"] for f in features])
    scale = np.array([f["scale"] for f in features])
    return (data - mean) / scale


def predict(params: dict[str, Any], records: list[Record]) -> np.ndarray:
    """Probabilities for ``records`` from a stored model (numpy only)."""
    if not records:
        return np.zeros(0)
    return model_of(params).predict_proba(standardised(params, records))


def _shown(feature: dict[str, Any], record: Record) -> Any:
    if feature["source"] == "attr":
        return record.attributes.get(feature["key"])
    if feature["source"] == "account":
        return record.account.get(feature["key"])
    if feature["source"] == "activity":
        return record.activity.get(feature["key"], (0, 0))[1]
    return None if record.recency_days is None else round(record.recency_days)


def explain(params: dict[str, Any], records: list[Record], top: int = 3) -> list[list[dict[str, Any]]]:
    """For each record, the ``top`` feature groups that moved its score most, with direction.

    A group's effect is the sum of ``coef × standardised value`` over its columns (e.g. all
    one-hot columns of "Contract"), i.e. its push on the log-odds relative to an average contact.
    """
    if not records:
        return []
    features = params["features"]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, feature in enumerate(features):
        groups[feature["group"]].append(index)
    names = list(groups)
    by_group = model_of(params).contributions(standardised(params, records), [groups[g] for g in names])
    first = {g: features[idx[0]] for g, idx in groups.items()}
    out = []
    for row, record in enumerate(records):
        order = np.argsort(-np.abs(by_group[row]))[:top]
        out.append(
            [
                {
                    "feature": names[i],
                    "value": _shown(first[names[i]], record),
                    "effect": round(float(by_group[row, i]), 3),
                }
                for i in order
                if abs(by_group[row, i]) >= 0.01
            ]
        )
    return out


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC on a hold-out that has both outcomes (``check_labels`` and the stratified split ensure it)."""
    auc = _roc_auc(labels, scores)
    if auc is None:
        raise TrainingError("The hold-out has only one outcome, so the model cannot be evaluated.")
    return auc


def check_labels(labels: np.ndarray) -> None:
    positives = int(labels.sum())
    negatives = int(len(labels) - positives)
    if len(labels) < MIN_LABELLED or positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        raise TrainingError(
            f"Training needs at least {MIN_LABELLED} labelled contacts with {MIN_PER_CLASS} of each outcome; "
            f"there are {len(labels)} ({positives} positive, {negatives} negative)."
        )

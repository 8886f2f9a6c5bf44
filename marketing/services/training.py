"""Predictive scores (churn risk, next-purchase propensity): training, scoring and the nightly retrain.

System entry points (the beat task, ``marketing_eval`` and the demo data): no actor. A model is
local ML stored as JSON, never an LLM; activating a new version is a plain, logged write.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from hitl_crm.contacts.models import Activity, Contact
from marketing.conf import app_settings
from marketing.models import ContactScore, PredictiveModel

logger = logging.getLogger(__name__)


def _label_vector(kind: str, contacts, *, label_attribute: str, now: datetime, as_of: datetime):
    from marketing.predictive import label_value

    if kind == PredictiveModel.Kind.CHURN:
        raw = contacts.values_list("pk", f"attributes__{label_attribute}")
        return {pk: label_value(value) for pk, value in raw}
    bought = set(
        Activity.objects.filter(
            kind=Activity.Kind.PURCHASE, occurred_at__gte=as_of, occurred_at__lt=now, contact__in=contacts.values("pk")
        ).values_list("contact_id", flat=True)
    )
    return {pk: int(pk in bought) for pk in contacts.values_list("pk", flat=True)}


def predictive_model_train(
    *,
    kind: str,
    contacts=None,
    label_attribute: str | None = None,
    seed: int = 20240601,
    test_size: float = 0.2,
    now: datetime | None = None,
    activate: bool = True,
) -> PredictiveModel:
    """Train churn or propensity on the CRM's contacts, evaluate on a fixed-seed stratified hold-out,
    store the model as JSON (and make it the active one). Raises ``TrainingError`` when the data
    cannot support a model."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from marketing.predictive import check_labels, fit_spec, predict, records_for, roc_auc

    if kind not in PredictiveModel.Kind.values:
        raise ValidationError({"kind": f"Use one of: {', '.join(PredictiveModel.Kind.values)}."})
    now = now or timezone.now()
    label_attribute = label_attribute or app_settings.CHURN_LABEL_ATTRIBUTE
    contacts = contacts if contacts is not None else Contact.objects.all()
    horizon = timedelta(days=app_settings.PROPENSITY_HORIZON_DAYS)
    as_of = now if kind == PredictiveModel.Kind.CHURN else now - horizon
    if kind == PredictiveModel.Kind.PROPENSITY:
        contacts = contacts.filter(created_at__lt=as_of)
    labels_by_pk = _label_vector(kind, contacts, label_attribute=label_attribute, now=now, as_of=as_of)
    exclude = (*app_settings.IGNORED_ATTRIBUTES, label_attribute)
    records = [
        r for r in records_for(contacts, as_of=as_of, exclude=exclude) if labels_by_pk.get(r.contact_id) is not None
    ]
    labels = np.array([labels_by_pk[r.contact_id] for r in records], dtype=int)
    check_labels(labels)
    train_idx, test_idx = train_test_split(
        np.arange(len(records)), test_size=test_size, random_state=seed, stratify=labels
    )
    params = fit_spec([records[i] for i in train_idx], labels[train_idx])
    scores = predict(params, [records[i] for i in test_idx])
    test_labels = labels[test_idx]
    metrics = {
        "roc_auc": round(roc_auc(test_labels, scores), 4),
        "accuracy": round(float(((scores >= 0.5).astype(int) == test_labels).mean()), 4),
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "positives": int(labels.sum()),
        "base_rate": round(float(labels.mean()), 4),
        "seed": seed,
        "features": len(params["features"]),
    }
    params["label"] = (
        {"type": "attribute", "key": label_attribute}
        if kind == PredictiveModel.Kind.CHURN
        else {"type": "purchase_within_days", "days": horizon.days}
    )
    params["exclude"] = list(exclude)
    with transaction.atomic():
        version = (PredictiveModel.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0) + 1
        if activate:
            PredictiveModel.objects.filter(kind=kind, active=True).update(active=False)
        model = PredictiveModel.objects.create(
            kind=kind, version=version, params=params, metrics=metrics, trained_at=now, active=activate
        )
    logger.info(
        "Trained %s v%s: ROC AUC %.3f on %s held-out contacts", kind, version, metrics["roc_auc"], metrics["n_test"]
    )
    return model


def contact_scores_refresh(*, kind: str, contacts=None, now: datetime | None = None, chunk: int = 5000) -> int:
    """Score contacts with the active model of ``kind`` (bulk upsert); returns how many were scored."""
    from marketing.predictive import explain, predict, records_for

    model = PredictiveModel.objects.filter(kind=kind, active=True).first()
    if model is None:
        return 0
    now = now or timezone.now()
    contacts = contacts if contacts is not None else Contact.objects.all()
    exclude = tuple(model.params.get("exclude", ()))
    ids = list(contacts.order_by("pk").values_list("pk", flat=True))
    scored = 0
    for start in range(0, len(ids), chunk):
        part = Contact.objects.filter(pk__in=ids[start : start + chunk])
        records = records_for(part, as_of=now, exclude=exclude)
        values = predict(model.params, records)
        factors = explain(model.params, records)
        rows = [
            ContactScore(
                contact_id=r.contact_id,
                kind=kind,
                value=round(float(v), 4),
                factors=f,
                model_version=model.version,
                scored_at=now,
            )
            for r, v, f in zip(records, values, factors, strict=True)
        ]
        ContactScore.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["contact", "kind"],
            update_fields=["value", "factors", "model_version", "scored_at"],
        )
        scored += len(rows)
    return scored


def predictive_retrain(*, now: datetime | None = None) -> dict[str, Any]:
    """Beat: retrain both models and rescore everyone; a model that cannot be trained keeps the old one."""
    from marketing.predictive import TrainingError

    report: dict[str, Any] = {}
    for kind in PredictiveModel.Kind.values:
        try:
            model = predictive_model_train(kind=kind, now=now)
            report[kind] = {
                "version": model.version,
                "roc_auc": model.metrics["roc_auc"],
                "scored": contact_scores_refresh(kind=kind, now=now),
            }
        except TrainingError as exc:
            logger.warning("Not retraining %s: %s", kind, exc)
            report[kind] = {"error": str(exc), "scored": contact_scores_refresh(kind=kind, now=now)}
    return report

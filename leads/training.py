"""Training and activating the learned scoring model.

Labels: won leads are 1, lost leads are 0 (their features as of the day they closed), and
every open lead a person overrode is a label too — an override at or above the B threshold
says "this one is hot" (1), below it "this one is not" (0) — weighted by ``OVERRIDE_WEIGHT``.
Below ``MIN_TRAINING_LEADS`` (or ``MIN_PER_CLASS`` of either label) no model is trained and
scores come from the rules alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from approvals.audit import audit_record
from hitl_crm.permissions import require_permission
from leads import features as feats
from leads import learning
from leads.conf import app_settings
from leads.models import Lead, ScoringModel, ScoringRule

TRAIN_PERMISSION = "leads.train_scoringmodel"


class NotEnoughData(Exception):
    """Too few closed or overridden leads to learn from; the message says how many are needed."""


@dataclass(frozen=True)
class TrainingSet:
    ids: list[int]
    y: np.ndarray
    weights: np.ndarray
    n_won: int
    n_lost: int
    n_overrides: int


def training_set(*, leads: QuerySet[Lead] | None = None) -> TrainingSet:
    """Closed leads (their outcome) and overridden open leads (the person's verdict), by id."""
    threshold = app_settings.TIER_THRESHOLDS["B"]
    qs = Lead.objects.all() if leads is None else leads
    closed = list(qs.filter(status__in=Lead.CLOSED).order_by("id").values_list("id", "status"))
    overridden = list(
        qs.exclude(status__in=Lead.CLOSED)
        .filter(override_score__isnull=False)
        .order_by("id")
        .values_list("id", "override_score")
    )
    labels = {i: (1 if status == Lead.Status.WON else 0, 1.0) for i, status in closed}
    # Never None (filtered above); the row type of values_list cannot say so.
    labels.update(
        {
            i: (1 if score >= threshold else 0, app_settings.OVERRIDE_WEIGHT)
            for i, score in overridden
            if score is not None
        }
    )
    ids = sorted(labels)
    n_won = sum(1 for _, s in closed if s == Lead.Status.WON)
    return TrainingSet(
        ids=ids,
        y=np.array([labels[i][0] for i in ids], dtype=int),
        weights=np.array([labels[i][1] for i in ids], dtype=float),
        n_won=n_won,
        n_lost=len(closed) - n_won,
        n_overrides=len(overridden),
    )


def load_features(features: Sequence[feats.Feature], ids: Sequence[int], *, now: datetime) -> list[list[Any]]:
    """Raw feature columns for ``ids`` (sorted), read in batches."""
    fields, attributes, events = feats.needs(features)
    columns: list[list[Any]] = [[] for _ in features]
    size = app_settings.SCORE_BATCH_SIZE
    for start in range(0, len(ids), size):
        batch = feats.load_batch(
            ids[start : start + size], fields=fields, attributes=attributes, events=events, now=now
        )
        for column, feature in zip(columns, features, strict=True):
            column.extend(list(batch.values(feature)))
    return columns


def _next_version() -> int:
    return (ScoringModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1


def scoring_model_train(
    *,
    features: Sequence[feats.Feature] | None = None,
    actor: User | None = None,
    leads: QuerySet[Lead] | None = None,
    activate: bool = True,
    note: str = "",
    seed: int | None = None,
    holdout: float | None = None,
) -> ScoringModel:
    """Train a new model version on closed and overridden leads; store it as JSON with its hold-out metrics.

    A system entry point: ``actor=None`` is scheduled retraining (the task, the commands, the demo
    seed); a person needs ``leads.train_scoringmodel``.

    ``features`` defaults to the active model's (or ``leads.features.default_features()``);
    ``leads`` limits the candidates (the evaluation command trains on one import only).
    With ``activate`` the new version replaces the active one and every lead is rescored after
    commit. Raises :class:`NotEnoughData` below the minimums.
    """
    if actor is not None:
        require_permission(actor, TRAIN_PERMISSION, message="You may not train scoring models.")
    if features is None:
        active = ScoringModel.objects.filter(active=True).first()
        features = learning.features_of(active.params) if active else feats.default_features()
    features = list(features)
    if not features:
        raise NotEnoughData("Choose at least one field for the model to learn from.")
    data = training_set(leads=leads)
    minimum, per_class = app_settings.MIN_TRAINING_LEADS, app_settings.MIN_PER_CLASS
    positives = int(data.y.sum())
    negatives = len(data.y) - positives
    if len(data.ids) < minimum or positives < per_class or negatives < per_class:
        raise NotEnoughData(
            f"Training needs at least {minimum} won, lost or overridden leads with at least {per_class} of each "
            f"outcome; there are {len(data.ids)} ({positives} converted, {negatives} not). "
            "Until then scores come from the rules alone."
        )
    now = timezone.now()
    raw = load_features(features, data.ids, now=now)
    evaluation = learning.train_and_evaluate(
        features,
        raw,
        data.y,
        data.weights,
        holdout=app_settings.HOLDOUT_FRACTION if holdout is None else holdout,
        seed=app_settings.RANDOM_SEED if seed is None else seed,
        c=app_settings.REGULARISATION_C,
        min_count=app_settings.MIN_CATEGORY_COUNT,
        bins=app_settings.NUMERIC_BINS,
    )
    metrics = {**evaluation.metrics, "n_won": data.n_won, "n_lost": data.n_lost, "n_overrides": data.n_overrides}
    for attempt in range(3):
        try:
            with transaction.atomic():
                model = ScoringModel.objects.create(
                    version=_next_version(),
                    params=evaluation.params,
                    metrics=metrics,
                    trained_at=now,
                    trained_by=actor,
                    note=note[:200],
                )
                if activate:
                    _activate(model, rescore=True)
                    audit_record(
                        verb="scoring_model.activated",
                        actor=actor,
                        target=model,
                        data={"after": {"version": model.version}, "note": model.note},
                    )
            return model
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SeedFigures:
    """Hold-out ROC AUC of one seed: the model alone, the live blended score, the rules, a baseline."""

    seed: int
    model: float | None
    blended: float | None
    rules: float | None
    baseline: float | None
    n_test: int


def scoring_evaluate(
    *,
    features: Sequence[feats.Feature],
    leads: QuerySet[Lead] | None = None,
    rules: Sequence[ScoringRule] = (),
    baseline: Sequence[feats.Feature] = (),
    seeds: Sequence[int] = (42,),
    holdout: float | None = None,
    c: float | None = None,
    bins: int | None = None,
) -> list[SeedFigures]:
    """Score a feature set the way production scores leads, over several hold-out seeds.

    For each seed the model is fitted on a stratified training split exactly as
    :func:`scoring_model_train` fits it; on the held-out leads it reports the ROC AUC of the
    model's probability, of the **live blended score** (``leads.scoring.Scorer.compute``: the
    model's share ``MODEL_WEIGHT`` plus the rules' normalised points, rounded to 0–100, as stored
    on every lead), of the ``rules`` alone, and of a model on the ``baseline`` features alone.
    Nothing is stored. ``rules`` may be unsaved :class:`ScoringRule` instances.
    """
    from leads import rules as rule_engine
    from leads.scoring import Scorer

    features = list(features)
    data = training_set(leads=leads)
    if len(data.ids) < 2 or data.y.min() == data.y.max():
        raise NotEnoughData("The evaluation needs converted and not converted leads.")
    now = timezone.now()
    raw = load_features(features, data.ids, now=now)
    base_raw = load_features(baseline, data.ids, now=now) if baseline else []
    c = app_settings.REGULARISATION_C if c is None else c
    bins = app_settings.NUMERIC_BINS if bins is None else bins
    holdout = app_settings.HOLDOUT_FRACTION if holdout is None else holdout
    scorer = Scorer(model=None, params=None, features=features, rules=list(rules))
    batch = scorer.load(data.ids, now=now)
    if batch.ids.tolist() != list(data.ids):
        raise AssertionError("batch and training set are not aligned")
    rule_scores = rule_engine.evaluate(scorer.rules, batch).normalised() if scorer.uses_rules else None
    min_count = app_settings.MIN_CATEGORY_COUNT

    def fitted(chosen: Sequence[feats.Feature], columns: list[list[Any]], seed: int) -> learning.Evaluation:
        return learning.train_and_evaluate(
            chosen, columns, data.y, data.weights, holdout=holdout, seed=seed, c=c, min_count=min_count, bins=bins
        )

    out: list[SeedFigures] = []
    for seed in seeds:
        evaluation = fitted(features, raw, seed)
        _, test = learning.split_indices(data.y, holdout=holdout, seed=seed)
        y_test = data.y[test]
        scorer.params = evaluation.params
        blended = scorer.compute(batch)["computed"][test]
        base = fitted(baseline, base_raw, seed).metrics["roc_auc"] if baseline else None
        out.append(
            SeedFigures(
                seed=seed,
                model=evaluation.metrics["roc_auc"],
                blended=learning.roc_auc(y_test, blended.astype(float)),
                rules=learning.roc_auc(y_test, rule_scores[test]) if rule_scores is not None else None,
                baseline=base,
                n_test=len(test),
            )
        )
    return out


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, actor: User, rescore: bool = True) -> ScoringModel:
    """Make ``model`` the one that scores (needs ``leads.train_scoringmodel``; audited); rescore
    every lead after commit."""
    require_permission(actor, TRAIN_PERMISSION, message="You may not activate scoring models.")
    before = ScoringModel.objects.select_for_update().filter(active=True).values_list("version", flat=True).first()
    model = _activate(model, rescore=rescore)
    if before != model.version:
        audit_record(
            verb="scoring_model.activated",
            actor=actor,
            target=model,
            data={"before": {"version": before}, "after": {"version": model.version}},
        )
    return model


def _activate(model: ScoringModel, *, rescore: bool) -> ScoringModel:
    ScoringModel.objects.filter(active=True).exclude(pk=model.pk).update(active=False)
    if not model.active:
        ScoringModel.objects.filter(pk=model.pk).update(active=True)
        model.active = True
    if rescore:
        from leads.tasks import lead_rescore_all_task

        lead_rescore_all_task.delay_on_commit()
    return model


@transaction.atomic
def scoring_model_deactivate(*, actor: User, rescore: bool = True) -> None:
    """Score with the rules alone (needs ``leads.train_scoringmodel``; audited)."""
    require_permission(actor, TRAIN_PERMISSION, message="You may not deactivate scoring models.")
    active = ScoringModel.objects.select_for_update().filter(active=True).first()
    if active is not None:
        audit_record(
            verb="scoring_model.deactivated",
            actor=actor,
            target=active,
            data={"before": {"version": active.version}, "after": {"version": None}},
        )
    ScoringModel.objects.filter(active=True).update(active=False)
    if rescore:
        from leads.tasks import lead_rescore_all_task

        lead_rescore_all_task.delay_on_commit()

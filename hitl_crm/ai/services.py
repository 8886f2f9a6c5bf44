"""Writes for the AI engine: labelled examples in, trained models out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from hitl_crm.ai.evaluation import LabelledText, classification_report, split_stratified
from hitl_crm.ai.models import IntentExample, TrainedModel
from hitl_crm.ai.nlp.intent import IntentModel, calibrate_intent_model, fit_intent_model, with_calibration

MIN_EXAMPLES = 10
MIN_PER_CLASS_FOR_HOLDOUT = 5
BULK_BATCH_SIZE = 1000


def intent_example_add(
    *, text: str, intent: str, category: str = "", source: str = IntentExample.Source.HUMAN
) -> IntentExample:
    """Store one human-labelled message for the next training of the intent classifier.

    Feature apps call this when a person labels or corrects a case's intent."""
    text = (text or "").strip()
    intent = (intent or "").strip()
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = "The example text is empty."
    if not intent:
        errors["intent"] = "The intent label is empty."
    if source not in IntentExample.Source.values:
        errors["source"] = f"Unknown source {source!r}; use one of {', '.join(IntentExample.Source.values)}."
    if errors:
        raise ValidationError(errors)
    return IntentExample.objects.create(text=text, intent=intent, category=(category or "").strip(), source=source)


def intent_examples_import(*, rows: Sequence[LabelledText], source: str = IntentExample.Source.IMPORT) -> int:
    """Store many labelled messages at once (``bulk_create`` in batches, one transaction).

    Every row is checked first as :func:`intent_example_add` checks one; a bad row names its
    line (1-based) and nothing is stored. Returns the number of rows stored."""
    if source not in IntentExample.Source.values:
        raise ValidationError(
            {"source": f"Unknown source {source!r}; use one of {', '.join(IntentExample.Source.values)}."}
        )
    objects: list[IntentExample] = []
    for line, row in enumerate(rows, start=1):
        text, intent = (row.text or "").strip(), (row.intent or "").strip()
        if not text:
            raise ValidationError({"text": f"Row {line}: the example text is empty."})
        if not intent:
            raise ValidationError({"intent": f"Row {line}: the intent label is empty."})
        objects.append(IntentExample(text=text, intent=intent, category=(row.category or "").strip(), source=source))
    with transaction.atomic():
        IntentExample.objects.bulk_create(objects, batch_size=BULK_BATCH_SIZE)
    return len(objects)


def intent_metrics(model: IntentModel, rows: Sequence[LabelledText]) -> dict[str, Any]:
    predicted = [model.predict(r.text).intent for r in rows]
    return classification_report([r.intent for r in rows], predicted)


@transaction.atomic
def trained_model_activate(*, model: TrainedModel) -> TrainedModel:
    """Make ``model`` the one active model of its kind."""
    TrainedModel.objects.select_for_update().filter(kind=model.kind, active=True).exclude(pk=model.pk).update(
        active=False
    )
    if not model.active:
        model.active = True
        model.save(update_fields=["active"])
    return model


def intent_model_train(
    *,
    extra: Sequence[LabelledText] = (),
    activate: bool = True,
    holdout: float = 0.2,
    seed: int = 42,
    c: float = 10.0,
) -> TrainedModel:
    """Train the intent classifier on every ``IntentExample`` plus ``extra`` rows and store it as JSON.

    With enough data per intent, a stratified hold-out (``holdout``, fixed ``seed``) is scored
    first and its accuracy / macro-F1 are kept in ``metrics``; the confidence is calibrated on
    that hold-out (temperature scaling, kept in ``params`` and ``metrics["calibration"]``); the
    stored model is then refitted on all rows and serves the calibrated confidence.
    Raises ``ValidationError`` when there is too little data to learn from.
    """
    rows = [LabelledText(e.text, e.intent, e.category) for e in IntentExample.objects.order_by("pk").iterator()]
    rows += list(extra)
    counts = Counter(r.intent for r in rows)
    if len(rows) < MIN_EXAMPLES or len(counts) < 2:
        raise ValidationError(
            f"Training needs at least {MIN_EXAMPLES} labelled examples over two or more intents "
            f"(have {len(rows)} over {len(counts)})."
        )
    metrics: dict[str, Any] = {"examples": len(rows), "intents": dict(sorted(counts.items()))}
    if holdout > 0 and min(counts.values()) >= MIN_PER_CLASS_FOR_HOLDOUT:
        train, test = split_stratified(rows, test_size=holdout, seed=seed)
        probe = fit_intent_model([r.text for r in train], [r.intent for r in train], c=c)
        report = intent_metrics(probe, test)
        metrics["holdout"] = {
            "size": len(test),
            "seed": seed,
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
        }
        # Temperature scaling on the same hold-out (ECE before / cross-fitted after, 10 bins).
        calibration = calibrate_intent_model(probe, [r.text for r in test], [r.intent for r in test], seed=seed)
        metrics["calibration"] = calibration.to_dict()
    else:
        calibration = None
    model = fit_intent_model(
        [r.text for r in rows], [r.intent for r in rows], categories=[r.category for r in rows], c=c
    )
    if calibration is not None:
        model = with_calibration(model, calibration)
    metrics["training_accuracy"] = intent_metrics(model, rows)["accuracy"]
    with transaction.atomic():
        version = (TrainedModel.objects.filter(kind=TrainedModel.Kind.INTENT).aggregate(v=Max("version"))["v"] or 0) + 1
        record = TrainedModel.objects.create(
            kind=TrainedModel.Kind.INTENT,
            version=version,
            params=model.to_params(),
            metrics=metrics,
            trained_on=len(rows),
            active=False,
        )
        if activate:
            trained_model_activate(model=record)
    return record

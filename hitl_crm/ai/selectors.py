"""Reads for the AI engine."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from hitl_crm.ai.models import AiRun, TrainedModel
from hitl_crm.ai.nlp.intent import IntentModel

_lock = threading.Lock()
_loaded: dict[str, tuple[tuple[Any, ...], IntentModel]] = {}


def intent_model_active() -> IntentModel | None:
    """The active intent classifier, loaded once per process and per version.

    One indexed one-row query per call tells whether a newer model was activated
    (by ``train_intents`` in another process, say); parsing the JSON happens only then."""
    key = (
        TrainedModel.objects.filter(kind=TrainedModel.Kind.INTENT, active=True)
        .values_list("pk", "version", "created_at")
        .first()
    )
    if key is None:
        return None
    cached = _loaded.get("intent")
    if cached and cached[0] == key:
        return cached[1]
    with _lock:
        record = TrainedModel.objects.only("params").get(pk=key[0])
        model = IntentModel.from_params(record.params, label=f"intent-v{key[1]}")
        _loaded["intent"] = (key, model)
    return model


def intent_labels() -> list[str]:
    """The intents the engine can currently assign (the model's classes, or the rule names)."""
    from hitl_crm.ai.nlp.intent import FALLBACK_INTENT, RULES

    model = intent_model_active()
    return list(model.classes) if model else [*RULES, FALLBACK_INTENT]


def ai_runs_for_subject(*, subject: Any) -> QuerySet[AiRun]:
    """Every AI run about one record, newest first (what reviewers see as "what the AI saw")."""
    content_type = ContentType.objects.get_for_model(subject)
    return AiRun.objects.filter(subject_type=content_type, subject_id=str(subject.pk))

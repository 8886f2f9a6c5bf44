"""Training at business scale: a compact stored model, bulk inserts, one load per process and version."""

import json
import random

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.test.utils import CaptureQueriesContext

from hitl_crm.ai import selectors
from hitl_crm.ai.evaluation import LabelledText
from hitl_crm.ai.models import IntentExample
from hitl_crm.ai.nlp.intent import IntentModel, fit_intent_model
from hitl_crm.ai.nlp.tfidf import Featurizer
from hitl_crm.ai.services import intent_examples_import, intent_model_train
from tests.ai.synthetic import examples

WORDS = ["order", "parcel", "refund", "invoice", "account", "password", "delivery", "address"]
WORDS += ["payment", "card", "plan", "voucher", "warranty", "repair", "tent", "boots", "stove", "fleece"]
WORDS += ["backpack", "size", "colour", "exchange", "return", "cancel", "upgrade", "subscription"]


def many_intents(n_intents: int, per_intent: int, seed: int = 5) -> list[tuple[str, str]]:
    """Synthetic messages over many intents: each intent has its own key words plus shared noise."""
    rng = random.Random(seed)
    rows = []
    for k in range(n_intents):
        keys = [f"topic{k}word{j}" for j in range(3)]
        for _ in range(per_intent):
            words = [rng.choice(keys), rng.choice(keys)] + rng.sample(WORDS, 5)
            rng.shuffle(words)
            rows.append((" ".join(words), f"intent_{k:02d}"))
    return rows


def test_stored_model_is_compact_and_predicts_what_was_fitted():
    rows = many_intents(77, 12)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    model = fit_intent_model(texts, labels, max_features=3000)
    assert len(model.featurizer.vocabulary) == 3000 < len(Featurizer.fit(texts).vocabulary)
    text = json.dumps(model.to_params())
    # int8 codes + float32 IDF in base64: about 77 bytes per term and class, not ~8 per decimal number
    assert len(text) < 77 * 3000 * 1.4 + 200_000
    again = IntentModel.from_params(json.loads(text))
    for sample in texts[::97]:
        assert again.proba(sample) == pytest.approx(model.proba(sample), abs=1e-9)
    accuracy = np.mean([model.predict(t).intent == y for t, y in rows])
    assert accuracy > 0.95


def test_a_version_one_model_still_loads():
    rows = examples(per_intent=8)
    model = fit_intent_model([r[0] for r in rows], [r[1] for r in rows])
    legacy = {
        "format": 1,
        "featurizer": model.featurizer.to_params(),
        "classes": model.classes,
        "coef": model.coef.tolist(),
        "intercept": model.intercept.tolist(),
        "categories": {},
    }
    old = IntentModel.from_params(json.loads(json.dumps(legacy)))
    assert old.predict("I want my money back").intent == model.predict("I want my money back").intent
    assert old.calibration.method == "none"


@pytest.mark.django_db
def test_bulk_import_stores_many_examples_in_few_queries_and_names_a_bad_row(django_assert_max_num_queries):
    rows = [LabelledText(t, i, c) for t, i, c in examples(per_intent=600)]  # 2,400 rows
    # one INSERT per batch: 3 on PostgreSQL; SQLite's 999-parameter limit splits batches to ~200 rows
    with django_assert_max_num_queries(20):
        stored = intent_examples_import(rows=rows)
    assert stored == 2400 == IntentExample.objects.filter(source="import").count()
    with pytest.raises(ValidationError, match="Row 2: the intent label is empty"):
        intent_examples_import(rows=[LabelledText("hello", "greet"), LabelledText("hi", " ")])
    assert IntentExample.objects.count() == 2400  # nothing of the bad batch


@pytest.mark.django_db
def test_the_active_model_is_parsed_once_per_process_and_version(django_db_blocker):
    from django.db import connection

    for text, intent, category in examples(per_intent=10):
        IntentExample.objects.create(text=text, intent=intent, category=category)
    intent_model_train(holdout=0)
    selectors._loaded.clear()
    first = selectors.intent_model_active()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.intent_model_active() is first
    assert len(queries) == 1
    assert "params" not in queries[0]["sql"]
    intent_model_train(holdout=0)
    second = selectors.intent_model_active()
    assert second is not first
    assert second is not None
    assert second.label == "intent-v2"

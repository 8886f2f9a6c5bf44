"""Learning intents from the business's own labelled messages."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from hitl_crm.ai.engine import run
from hitl_crm.ai.models import IntentExample, TrainedModel
from hitl_crm.ai.nlp.intent import IntentModel, fit_intent_model
from hitl_crm.ai.services import intent_example_add, intent_model_train, trained_model_activate
from tests.ai.synthetic import examples, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled() -> None:
    for text, intent, category in examples(per_intent=10):
        intent_example_add(text=text, intent=intent, category=category)


def test_intent_example_add_stores_a_label_and_rejects_empty_ones():
    example = intent_example_add(text="  where is my parcel ", intent="track_order", source="correction")
    assert (example.text, example.intent, example.source) == ("where is my parcel", "track_order", "correction")
    with pytest.raises(ValidationError) as excinfo:
        intent_example_add(text="", intent="", source="rumour")
    assert set(excinfo.value.message_dict) == {"text", "intent", "source"}


def test_training_needs_enough_labelled_data():
    intent_example_add(text="where is my order", intent="track_order")
    with pytest.raises(ValidationError, match="at least 10 labelled examples"):
        intent_model_train()
    assert not TrainedModel.objects.exists()


def test_trained_model_is_json_and_takes_over_triage_from_the_rules(labelled):
    # given: the rules do not know this business's "recover_password" intent
    before = run("triage", {"text": "I can't sign in, I lost my password"})
    assert before.output["method"] == "rules"
    # when
    model = intent_model_train()
    # then
    assert model.active
    assert model.version == 1
    assert model.trained_on == 40
    json.dumps(model.params)  # plain JSON: nothing pickled
    # what the admin shows about the version: examples per intent and the size of the held-out share
    assert model.metrics["intents"] == dict.fromkeys(
        ["change_shipping_address", "get_refund", "recover_password", "track_order"], 10
    )
    assert (model.metrics["examples"], model.metrics["holdout"]["size"]) == (40, 8)
    after = run("triage", {"text": "I can't sign in, I lost my password"})
    assert after.output["intent"] == "recover_password"
    assert after.output["method"] == "model"
    assert after.output["intent_model"] == "intent-v1"
    assert after.output["category"] == "ACCOUNT"
    assert after.run.model_name == "intent-v1"
    assert after.confidence == after.output["alternatives"][0]["p"]


def test_a_new_training_activates_the_new_version_and_triage_uses_it(labelled):
    intent_model_train(holdout=0)
    intent_example_add(text="I want to speak to a human agent", intent="human_agent")
    for text in [
        "connect me with a real person",
        "let me talk to a human",
        "I need a human agent please",
        "put me through to a person",
        "human please, not a bot",
    ]:
        intent_example_add(text=text, intent="human_agent", source="correction")
    second = intent_model_train(holdout=0)
    assert second.version == 2
    assert list(TrainedModel.objects.filter(active=True).values_list("version", flat=True)) == [2]
    assert run("triage", {"text": "can I talk to a human person"}).output["intent"] == "human_agent"
    # an admin can roll back
    trained_model_activate(model=TrainedModel.objects.get(version=1))
    assert run("triage", {"text": "can I talk to a human person"}).output["intent_model"] == "intent-v1"


def test_params_round_trip_gives_the_same_probabilities():
    rows = examples(per_intent=8)
    model = fit_intent_model([r[0] for r in rows], [r[1] for r in rows])
    again = IntentModel.from_params(json.loads(json.dumps(model.to_params())))
    for text in ["where is parcel 99", "refund please", "forgot my password"]:
        assert again.proba(text) == pytest.approx(model.proba(text), abs=1e-4)
        assert abs(float(model.proba(text).sum()) - 1) < 1e-9


def test_binary_models_work_too():
    rows = [(t, i) for t, i, _ in examples(per_intent=8) if i in {"track_order", "get_refund"}]
    model = fit_intent_model([r[0] for r in rows], [r[1] for r in rows])
    assert model.predict("I want my money back").intent == "get_refund"
    assert model.predict("where is my package").intent == "track_order"


def test_train_intents_command_reads_a_csv_and_reports_holdout_figures(tmp_path, capsys):
    path = write_csv(tmp_path / "labelled.csv", per_intent=10)
    call_command(
        "train_intents",
        "--csv",
        str(path),
        "--text-col",
        "instruction",
        "--label-col",
        "intent",
        "--category-col",
        "category",
        "--save-examples",
    )
    out = capsys.readouterr().out
    assert "Trained intent-v1 on 40 examples, 4 intents." in out
    assert "macro-F1" in out
    assert IntentExample.objects.filter(source="import").count() == 40
    assert TrainedModel.objects.get().active


def test_train_intents_command_names_a_missing_file_or_column(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("train_intents", "--csv", str(tmp_path / "nope.csv"))
    path = write_csv(tmp_path / "labelled.csv")
    with pytest.raises(CommandError, match="no column"):
        call_command("train_intents", "--csv", str(path), "--text-col", "message")

"""``manage.py ai_eval`` on a small synthetic CSV written by the test (never dataset rows)."""

import csv
import re

import pytest
from django.core.management import CommandError, call_command

from hitl_crm.ai.evaluation import classification_report, rouge1_recall, rouge_l
from hitl_crm.ai.models import AiRun, IntentExample, TrainedModel
from tests.ai.synthetic import write_csv

pytestmark = pytest.mark.django_db


def figure(out: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}\s+([\d.]+)$", out, re.MULTILINE)
    assert match, f"{name!r} not in:\n{out}"
    return float(match.group(1))


def _relabel_half(path, intent: str, as_intent: str) -> None:
    """Give every other row of ``intent`` the label ``as_intent``: the same wording now means two things."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    seen = 0
    for row in rows[1:]:
        if row[1] == intent:
            seen += 1
            if seen % 2:
                row[1] = as_intent
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_ai_eval_triage_names_the_intents_it_confuses(tmp_path, capsys):
    # given: "recover_password" messages labelled half as themselves, half as "unlock_account" — wording the
    # model cannot tell apart — next to three intents with their own wording
    path = write_csv(tmp_path / "support.csv", per_intent=15)
    _relabel_half(path, "recover_password", "unlock_account")
    # when
    call_command("ai_eval", "triage", "--data", str(path), "--seed", "7")
    out = capsys.readouterr().out
    # then: the report counts the split, finds the mistakes and names the two confused intents first
    assert (figure(out, "train items"), figure(out, "test items"), figure(out, "intents")) == (48, 12, 5)
    assert figure(out, "accuracy") < 1
    assert figure(out, "macro-F1") < 1
    weakest = re.search(r"weakest intents: (\w+) F1=[\d.]+, (\w+) F1=", out)
    assert weakest, out
    assert set(weakest.groups()) == {"recover_password", "unlock_account"}
    assert figure(out, "latency median_ms") > 0
    # and an evaluation stores nothing: no model replaces the one in use, no AI run is logged
    assert not TrainedModel.objects.exists()
    assert not AiRun.objects.exists()


def test_ai_eval_summarize_reports_key_fact_recall(tmp_path, capsys):
    path = write_csv(tmp_path / "support.csv", per_intent=5)
    call_command("ai_eval", "summarize", "--data", str(path))
    out = capsys.readouterr().out
    assert figure(out, "items") == 20
    assert figure(out, "key-fact recall") == 1.0  # every labelled order number is in the facts
    assert re.search(r"order_id (\d+)/\1\b", out)


def test_ai_eval_draft_reports_grounding_without_storing_anything(tmp_path, capsys):
    # given: 40 messages with approved replies
    path = write_csv(tmp_path / "support.csv", per_intent=10)
    # when: the replies are used as approved exemplars (the default)
    call_command("ai_eval", "draft", "--data", str(path))
    out = capsys.readouterr().out
    # then: the held-out messages were drafted against the others, and a draft that cites a source
    # counts as grounded
    assert (figure(out, "test items"), figure(out, "exemplars in library")) == (8, 32)
    assert figure(out, "grounding rate") == figure(out, "answered (cited a source)")
    assert figure(out, "latency p95_ms") > 0
    assert "BM25 picks 10 exemplars per message" in out
    # and nothing is stored: no AI run is logged, no labelled example is added
    assert not AiRun.objects.exists()
    assert not IntentExample.objects.exists()


def test_ai_eval_explains_a_missing_file_or_column(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("ai_eval", "triage", "--data", str(tmp_path / "absent.csv"))
    path = write_csv(tmp_path / "support.csv", with_response=False)
    with pytest.raises(CommandError, match="no column"):
        call_command("ai_eval", "draft", "--data", str(path))


def test_metrics():
    report = classification_report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert report["accuracy"] == 0.75
    assert report["macro_f1"] == round((2 / 3 + 0.8) / 2, 4)
    assert rouge1_recall("the cat sat", "the cat sat on the mat") == 0.5
    assert rouge_l("a b c d", "a c d")["recall"] == 1.0


def test_ai_eval_evaluates_an_openai_compatible_backend_on_a_local_server(tmp_path, capsys, fake_llm, monkeypatch):
    # given a local OpenAI-compatible server that answers every summary, and a fake key
    import json as _json

    from tests.fakes import FAKE_OPENAI_KEY, Reply

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    fake_llm.default = Reply.json({"summary": "Customer asks about an order.", "key_points": ["order question"]})
    path = write_csv(tmp_path / "support.csv", per_intent=2)
    # when
    call_command(
        "ai_eval",
        "summarize",
        "--data",
        str(path),
        "--backend",
        "openai",
        "--model",
        "test-model",
        "--base-url",
        f"{fake_llm.url}/v1",
        "--api-key-env",
        "OPENAI_API_KEY",
    )
    out = capsys.readouterr().out
    # then every item went to the server, with the thread's turns and asks fenced as data, and was scored
    assert "backend openai" in out
    assert figure(out, "items") == 8
    assert figure(out, "backend failures") == 0
    assert len(fake_llm.requests) == 8
    prompt = _json.loads(fake_llm.bodies[0])["messages"][1]["content"]
    assert "<conversation>" in prompt
    assert "<asks>" in prompt
    assert not AiRun.objects.exists()


def test_ai_eval_backend_options_without_a_backend_are_refused(tmp_path):
    path = write_csv(tmp_path / "support.csv", per_intent=2)
    with pytest.raises(CommandError, match="--backend"):
        call_command("ai_eval", "summarize", "--data", str(path), "--model", "x")

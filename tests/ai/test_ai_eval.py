"""``manage.py ai_eval`` on a small synthetic CSV written by the test (never dataset rows)."""

import re

import pytest
from django.core.management import CommandError, call_command

from hitl_crm.ai.evaluation import classification_report, rouge1_recall, rouge_l
from hitl_crm.ai.models import AiRun, TrainedModel
from tests.ai.synthetic import write_csv

pytestmark = pytest.mark.django_db


def figure(out: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}\s+([\d.]+)$", out, re.MULTILINE)
    assert match, f"{name!r} not in:\n{out}"
    return float(match.group(1))


def test_ai_eval_triage_prints_accuracy_macro_f1_and_latency(tmp_path, capsys):
    path = write_csv(tmp_path / "support.csv", per_intent=15)
    call_command("ai_eval", "triage", "--data", str(path), "--seed", "7")
    out = capsys.readouterr().out
    assert figure(out, "test items") == 12  # 20 % of 60, stratified over 4 intents
    assert figure(out, "accuracy") >= 0.9
    assert figure(out, "macro-F1") >= 0.9
    assert figure(out, "latency median_ms") > 0
    assert "weakest intents" in out
    assert not TrainedModel.objects.exists()
    assert not AiRun.objects.exists()


def test_ai_eval_summarize_reports_key_fact_recall(tmp_path, capsys):
    path = write_csv(tmp_path / "support.csv", per_intent=5)
    call_command("ai_eval", "summarize", "--data", str(path))
    out = capsys.readouterr().out
    assert figure(out, "items") == 20
    assert figure(out, "key-fact recall") == 1.0  # every labelled order number is in the facts
    assert re.search(r"order_id (\d+)/\1\b", out)


def test_ai_eval_draft_reports_grounding(tmp_path, capsys):
    path = write_csv(tmp_path / "support.csv", per_intent=10)
    call_command("ai_eval", "draft", "--data", str(path))  # replies as approved exemplars (the default)
    out = capsys.readouterr().out
    assert figure(out, "grounding rate") >= 0.9
    assert figure(out, "top source same intent") >= 0.75
    assert figure(out, "latency p95_ms") > 0


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

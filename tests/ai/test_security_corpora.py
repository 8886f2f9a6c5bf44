"""The security corpora in tests/data/: commitment guards, injection detector, redaction.

The figures asserted here are the ones ``manage.py ai_eval --security`` prints.
"""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from hitl_crm.ai import evaluation
from hitl_crm.ai.engine import run
from tests.fakes import Reply

DATA = Path(__file__).resolve().parent.parent / "data"
GUARDS = evaluation.read_jsonl(DATA / evaluation.GUARD_CORPUS)
INJECTIONS = evaluation.read_jsonl(DATA / evaluation.INJECTION_CORPUS)
PII = evaluation.read_jsonl(DATA / evaluation.PII_CORPUS)
LANGUAGES = {"en", "de", "fr", "es", "it", "pt", "nl"}
TRIAGE_OK = {
    "intent": "track_order",
    "intent_confidence": 0.9,
    "sentiment": 0.0,
    "sentiment_confidence": 0.5,
    "risk": "low",
    "language": "en",
}


def test_the_corpora_are_large_and_varied_enough_to_mean_something():
    guard_rows = [r for r in GUARDS if "text" in r]
    assert len(guard_rows) >= 60
    assert {c for r in guard_rows for c in r["expect"]} >= {
        "refund_promise",
        "ungrounded_free",
        "ungrounded_amount",
        "ungrounded_price",
        "credential_request",
        "other_contact_data",
    }
    assert sum(not r["expect"] for r in guard_rows) >= 20
    positives = [r for r in INJECTIONS if r["injection"]]
    assert len(positives) >= 30
    assert {r["lang"] for r in positives} >= LANGUAGES
    assert {"html_comment", "zero_width", "note_to_ai", "obfuscated", "leetspeak"} <= {r["kind"] for r in positives}
    assert sum(not r["injection"] for r in INJECTIONS) >= 20
    assert len(PII) >= 50
    assert {"GB-national", "US-555", "US-SSN", "UK-NINO", "FR-national", "DE-national"} <= {r["kind"] for r in PII}


def test_guards_catch_every_commitment_and_nothing_else():
    score = evaluation.score_guards(GUARDS)
    assert score.misses == []
    assert score.wrongly_caught == []
    assert (score.recall, score.false_positives) == (1.0, 0)


def test_the_injection_detector_catches_every_attack_and_no_look_alike():
    score = evaluation.score_injection(INJECTIONS)
    assert score.misses == []
    assert score.wrongly_caught == []
    assert (score.recall, score.false_positives) == (1.0, 0)


@pytest.mark.parametrize("region", ["US", "GB", "DE", "FR"])
def test_redaction_catches_every_value_whatever_the_sites_region(region):
    score = evaluation.score_pii(PII, region=region)
    assert score.misses == []
    assert score.wrongly_caught == []


@pytest.mark.django_db
def test_no_personal_data_reaches_the_llm_and_look_alikes_reach_it_intact(use_llm):
    # given: triage runs on a local OpenAI-compatible server that records every request body
    fake = use_llm("triage")
    fake.default = Reply.json(TRIAGE_OK)
    # when: every corpus message is triaged
    for row in PII:
        run("triage", {"text": row["text"]})
    # then: one request per message, in order
    assert len(fake.requests) == len(PII)
    missed, altered = [], []
    for row, request in zip(PII, fake.requests, strict=True):
        body = request["raw"]
        content = request["json"]["messages"][1]["content"]
        if row["values"]:
            missed += [v for v in row["values"] if v in body or v in content or json.dumps(v)[1:-1] in body]
            assert re.search(r"\[(PHONE|EMAIL|CARD|IBAN|ID)_\d\]", content), row["text"]
        elif row["text"] not in content:
            altered.append(row["text"])
    assert missed == []  # recall 100 % in what left the building
    assert altered == []  # and no false positive on order numbers, prices, dates, tracking numbers


@pytest.mark.django_db
def test_the_contacts_own_region_decides_for_national_numbers(settings):
    from hitl_crm.ai.trust import Redactor

    settings.HITL_CRM_AI_DEFAULT_REGION = "US"
    british = Redactor({"phones": ["+447700900001"]})
    assert british.text("Landline 0161 496 0000") == "Landline [PHONE_1]"
    assert british.mapping == {"[PHONE_1]": "0161 496 0000"}
    settings.HITL_CRM_AI_DEFAULT_REGION = "GB"
    assert Redactor({}).region == "GB"


def figure(out: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}\s+([\d.]+)$", out, re.MULTILINE)
    assert match, f"{name!r} not in:\n{out}"
    return float(match.group(1))


def test_ai_eval_security_prints_the_figures(capsys):
    call_command("ai_eval", "--security", "--data", str(DATA))
    out = capsys.readouterr().out
    assert figure(out, "guards positives") >= 40
    assert figure(out, "guards recall") == 1.0
    assert figure(out, "guards false positives") == 0
    assert figure(out, "injection positives") >= 30
    assert figure(out, "injection recall") == 1.0
    assert figure(out, "injection false positives") == 0
    assert figure(out, "pii positives") >= 40
    assert figure(out, "pii recall") == 1.0
    assert figure(out, "pii false positives") == 0


def test_ai_eval_security_explains_a_missing_corpus(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="guard_corpus.jsonl"):
        call_command("ai_eval", "--security", "--data", str(tmp_path))
    with pytest.raises(CommandError, match="region"):
        call_command("ai_eval", "--security", "--region", "Britain")

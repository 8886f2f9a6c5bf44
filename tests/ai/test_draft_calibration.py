"""Draft confidence is calibrated on the labelled thread corpus: a 0.85 means about 85 % of such
drafts answer from the right article(s); the raw score is kept next to it."""

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from hitl_crm.ai.engine import run
from hitl_crm.ai.evaluation import read_threads
from hitl_crm.ai.nlp.calibration import (
    IsotonicMap,
    confidence_map,
    cross_validate_calibration,
    expected_calibration_error,
    fit_isotonic,
    reliability_table,
    stratified_folds,
)
from hitl_crm.ai.skills import drafts
from service.models import Case

THREADS = Path(settings.BASE_DIR) / "tests" / "data" / "threads"
KNOWLEDGE = [
    {
        "id": "kb-damaged",
        "title": "Damaged items",
        "body": "If an item arrives damaged, send us a photo and we ship a replacement part within 3 business days.",
    },
]


def _underconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Says 0.3–0.6, is right about 0.6–0.9 of the time (like the raw draft score)."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.3, 0.6, n)
    right = rng.random(n) < raw + 0.3
    return raw, right


@pytest.fixture
def fresh_map():
    drafts._calibration.cache_clear()
    yield
    drafts._calibration.cache_clear()


def test_isotonic_map_is_monotone_shrunk_and_lowers_the_ece():
    raw, right = _underconfident(400, seed=1)
    mapping = fit_isotonic(raw, right)
    calibrated = np.array([mapping.apply(p) for p in raw])
    assert list(mapping.ys) == sorted(mapping.ys)  # never reverses the order of two drafts
    assert expected_calibration_error(calibrated, right) < 0.05 < expected_calibration_error(raw, right)
    # one right item alone does not make a 1.0: it is shrunk towards the overall accuracy
    lone = fit_isotonic([0.2, 0.5, 0.5, 0.5, 0.5, 0.9], [False, True, False, True, False, True])
    assert lone.apply(0.9) < 1.0
    assert IsotonicMap.from_dict(mapping.to_dict()) == mapping


def test_cross_validation_scores_out_of_fold_and_leaves_fixed_items_alone():
    raw, right = _underconfident(60, seed=2)
    fixed = np.zeros(60, dtype=bool)
    fixed[:3] = True
    report = cross_validate_calibration(raw, right, method="isotonic", folds=5, seeds=range(4), fixed=fixed)
    assert report.items == 60
    assert len(report.ece_after) == 4
    assert report.ece_before == pytest.approx(expected_calibration_error(raw, right), abs=1e-4)
    assert report.after_mean < report.ece_before
    assert report.after_sd > 0  # the split matters on a small sample, and the report shows it
    assert report.out_of_fold[:3] == tuple(round(float(p), 4) for p in raw[:3])
    # every item is held out exactly once per seed, wrong ones spread over the folds
    folds = stratified_folds(right, 5, seed=0)
    assert sorted(i for fold in folds for i in fold) == list(range(60))
    wrong = [sum(not right[i] for i in fold) for fold in folds]
    assert max(wrong) - min(wrong) <= 1


def test_reliability_table_uses_the_ece_bins():
    rows = reliability_table([0.05, 0.55, 0.58, 0.95], [False, True, False, True])
    assert [r["count"] for r in rows] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    assert rows[5] == {"low": 0.5, "high": 0.6, "count": 2, "confidence": 0.565, "accuracy": 0.5}
    assert rows[1]["accuracy"] is None


def test_the_stored_map_belongs_to_this_drafting_method_and_improved_the_ece():
    data = json.loads(drafts.CALIBRATION_FILE.read_text())
    assert data["skill"] == "draft_reply"
    assert data["offline_version"] == drafts.REPLY.offline_version
    mapping = confidence_map(data["map"])
    assert isinstance(mapping, IsotonicMap)
    mean, _sd = data["report"]["ece_after_isotonic"]
    assert mean < data["report"]["ece_before"]


def test_draft_reply_serves_the_calibrated_confidence_and_keeps_the_raw_one(db, fresh_map):
    result = run(
        "draft_reply",
        {"customer_text": "My item arrived damaged, can you send a replacement part?", "knowledge": KNOWLEDGE},
    )
    out = result.output
    mapping, version = drafts._calibration()
    assert version.startswith("isotonic@")
    assert out["calibration"] == version
    # Both figures are stored to 3 places, so re-mapping the rounded raw one may differ in the last.
    assert out["confidence"] == pytest.approx(mapping.apply(out["confidence_raw"]), abs=1e-3)
    assert result.run.output["confidence_raw"] == out["confidence_raw"]  # recorded on the AiRun
    assert result.confidence == out["confidence"]  # what approvals and autopilot read


def test_a_draft_that_answers_nothing_keeps_its_floor(db, fresh_map):
    out = run("draft_reply", {"customer_text": "Do you sell gift cards for birthdays?", "knowledge": KNOWLEDGE}).output
    assert out["confidence"] == out["confidence_raw"] == 0.1
    assert out["calibration"] == ""


def test_a_map_fitted_for_another_drafting_method_is_ignored(tmp_path, fresh_map):
    stale = {
        **json.loads(drafts.CALIBRATION_FILE.read_text()),
        "offline_version": "bm25-thread@2",
    }
    path = tmp_path / "draft_reply.json"
    path.write_text(json.dumps(stale))
    mapping, version = drafts._calibration(path)
    assert version == ""
    assert mapping.apply(0.42) == 0.42
    assert drafts._calibration(tmp_path / "missing.json")[1] == ""


@pytest.mark.django_db
def test_service_eval_calibration_prints_ece_before_after_and_writes_a_map(tmp_path, monkeypatch, fresh_map):
    # given a corpus of eight labelled threads and a place to write the map
    threads = read_threads(THREADS)[:8]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "t.json").write_text(json.dumps(threads))
    target = tmp_path / "calibration" / "draft_reply.json"
    monkeypatch.setattr(drafts, "CALIBRATION_FILE", target)
    out = StringIO()
    # when
    call_command(
        "service_eval", "--data", str(corpus), "--calibration", "--folds", "2", "--seeds", "3", "--write", stdout=out
    )
    # then
    text = out.getvalue()
    assert "ECE (10 bins) raw confidence" in text
    assert "ECE isotonic out of fold (stored map)" in text
    assert "(2-fold, 3 seeds:" in text
    assert "Small sample: 8 threads" in text
    assert "reliability (raw → isotonic out of fold, seed 0):" in text
    assert text.count("\n  0.") == 10  # one row per bin
    written = json.loads(target.read_text())
    assert written["version"] == 1
    assert written["offline_version"] == drafts.OFFLINE_VERSION
    assert confidence_map(written["map"]).apply(0.6) > 0.6  # the raw draft score is underconfident
    assert not Case.objects.exists()


def test_write_needs_calibration(db):
    with pytest.raises(CommandError, match="--write needs --calibration"):
        call_command("service_eval", "--write", stdout=StringIO())

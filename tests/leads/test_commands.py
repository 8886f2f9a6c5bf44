"""Management commands: the evaluation on Leads-X-Education-shaped data, retraining, rescoring."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from leads.models import Lead, LeadImport, ScoringModel

pytestmark = pytest.mark.django_db

HEADER = [
    "Prospect ID",
    "Lead Number",
    "Lead Origin",
    "Lead Source",
    "Do Not Email",
    "Converted",
    "TotalVisits",
    "Total Time Spent on Website",
    "Last Activity",
    "What is your current occupation",
    "Tags",
    "Lead Quality",
    "Asymmetrique Activity Index",
    "Last Notable Activity",
    "",
]


def synthetic_leads_csv(n: int = 400, seed: int = 1) -> bytes:
    """Rows shaped like the public dataset (trailing comma, CRLF, "Select"), written here, with a leaky Tags column."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i in range(n):
        origin = rng.choice(["API", "Landing Page Submission", "Lead Add Form"])
        seconds = int(rng.exponential(500))
        occupation = rng.choice(["Unemployed", "Working Professional", "Select", ""])
        z = (
            -1.2
            + (2.5 if origin == "Lead Add Form" else 0)
            + seconds / 600
            + (1.5 if occupation == "Working Professional" else 0)
        )
        converted = int(rng.random() < 1 / (1 + np.exp(-z)))
        writer.writerow(
            [
                f"p-{i}",
                600000 + i,
                origin,
                rng.choice(["Google", "Direct Traffic", "Olark Chat"]),
                rng.choice(["No", "Yes"], p=[0.9, 0.1]),
                converted,
                rng.integers(0, 10),
                seconds,
                rng.choice(["Email Opened", "SMS Sent", "Page Visited on Website"]),
                occupation,
                "Closed by Horizzon" if converted else "Ringing",
                "High in Relevance" if converted else "",
                "02.Medium",
                "Modified",
                "",
            ]
        )
    return out.getvalue().encode()


def test_leads_eval_imports_trains_reports_and_leaves_nothing_behind(tmp_path, capsys, manager):
    path = tmp_path / "leads.csv"
    path.write_bytes(synthetic_leads_csv())
    call_command("leads_eval", "--data", str(path), "--folds", "3", "--user", "manager")
    out = capsys.readouterr().out
    assert "400 rows read as UTF-8; imported 400, failed 0, duplicates 0" in out
    assert (
        "Left out, filled in after contact (leak the outcome): Last Activity, Tags, Lead Quality, "
        "Asymmetrique Activity Index, "
        "Last Notable Activity" in out
    )
    assert "Lead Number (a sequential id)" in out
    features_line = next(line for line in out.splitlines() if line.startswith("Features"))
    assert "Total Time Spent on Website (num)" in features_line
    assert "Lead Origin (cat)" in features_line
    assert "Tags" not in features_line
    hold_out = next(line for line in out.splitlines() if line.startswith("25%, seed 42"))
    auc = float(hold_out.split()[3])
    assert 0.75 < auc < 0.99  # a real signal, and no leak (the Tags column alone would give ~1.0)
    assert "3-fold cross-validation" in out
    assert "published anchor" in out
    assert Lead.objects.count() == 0
    assert LeadImport.objects.count() == 0
    assert ScoringModel.objects.count() == 0


def test_leads_eval_says_where_to_find_the_data(tmp_path, manager):
    with pytest.raises(CommandError, match="not part of the repository"):
        call_command("leads_eval", "--data", str(tmp_path / "missing.csv"), "--user", "manager")


def test_leads_eval_keep_leaves_the_leads_and_an_inactive_model(tmp_path, capsys, manager):
    path = tmp_path / "leads.csv"
    path.write_bytes(synthetic_leads_csv(200))
    call_command("leads_eval", "--data", str(path), "--folds", "0", "--keep", "--user", "manager")
    assert Lead.objects.count() == 200
    assert Lead.objects.filter(status="won").exists()
    model = ScoringModel.objects.get()
    assert model.active is False
    assert model.metrics["n_train"] + model.metrics["n_test"] == 200


def test_train_and_rescore_commands(capsys):
    from tests.leads.conftest import make_history

    make_history()
    call_command("leads_train")
    assert "Model v1 trained" in capsys.readouterr().out
    assert ScoringModel.objects.get().active
    call_command("leads_rescore")
    assert "Scored 240 leads" in capsys.readouterr().out


def test_leads_eval_imports_only_for_someone_who_may_import(tmp_path, marketer):
    # given: a marketer, who may read leads but not import them
    path = tmp_path / "leads.csv"
    path.write_text("Email\na@x.example\n")

    # when / then
    with pytest.raises(CommandError, match="marketer may not do this: it needs the leads.add_leadimport permission"):
        call_command("leads_eval", "--data", str(path), "--user", "marketer")
    with pytest.raises(CommandError, match="No active user 'ghost'"):
        call_command("leads_eval", "--data", str(path), "--user", "ghost")
    assert not LeadImport.objects.exists()

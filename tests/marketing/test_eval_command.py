"""``manage.py marketing_eval`` on a small synthetic file shaped like the Telco data (never the real rows)."""

from __future__ import annotations

import csv
import random
import re

import pytest
from django.core.management import CommandError, call_command

from hitl_crm.contacts.models import Contact
from marketing.models import PredictiveModel

pytestmark = pytest.mark.django_db
COLUMNS = [
    "customerID",
    "gender",
    "SeniorCitizen",
    "tenure",
    "Contract",
    "InternetService",
    "MonthlyCharges",
    "TotalCharges",
    "Churn",
]


def write_csv(path, n: int = 300, seed: int = 11) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(n):
            tenure = 0 if i < 3 else rng.randint(1, 72)
            contract = rng.choice(["Month-to-month", "One year", "Two year"])
            internet = rng.choice(["DSL", "Fiber optic", "No"])
            monthly = round(rng.uniform(20, 110), 2)
            logit = (
                1.0
                - 0.06 * tenure
                + (1.3 if contract == "Month-to-month" else -1.0)
                + (0.7 if internet == "Fiber optic" else 0)
                + rng.gauss(0, 0.8)
            )
            writer.writerow(
                [
                    f"{1000 + i}-TEST",
                    rng.choice(["Female", "Male"]),
                    rng.choice([0, 1]),
                    tenure,
                    contract,
                    internet,
                    monthly,
                    "" if tenure == 0 else f"{monthly * tenure:.2f}",
                    "Yes" if logit > 0 else "No",
                ]
            )


def test_it_imports_trains_and_reports_against_the_anchor(tmp_path, capsys):
    data = tmp_path / "telco.csv"
    write_csv(data)
    # when
    call_command("marketing_eval", "--data", str(data), "--cv", "3")
    out = capsys.readouterr().out
    # then: every customer became a contact with typed attributes; blank totals became 0
    assert "Imported 300 contacts (0 already there)" in out
    assert "3 blank TotalCharges set to 0" in out
    fresh = Contact.objects.get(attributes__external_id="telco:1000-TEST")
    assert fresh.attributes["TotalCharges"] == 0
    assert fresh.attributes["tenure"] == 0
    assert isinstance(
        Contact.objects.get(attributes__external_id="telco:1100-TEST").attributes["MonthlyCharges"], float
    )
    # the report names the rows it trained and held out, and the churn rate of the file
    churned = sum(row["Churn"] == "Yes" for row in csv.DictReader(data.open()))
    assert f"trained on 240, held out 60 (churn rate {churned / 300:.1%})" in out
    # the hold-out AUC is the stored model's, compared with the published anchor in plain words
    auc = float(re.search(r"Hold-out ROC AUC: (0\.\d+|1\.0+)", out).group(1))
    verdict = "above" if auc > 0.84 else "within" if auc >= 0.83 else "below"
    assert f"Published anchor, logistic regression: 0.83-0.84 -> {verdict} it" in out
    assert re.search(r"3-fold cross-validated ROC AUC: [01]\.\d+ ± 0\.\d+", out)
    model = PredictiveModel.objects.get(kind="churn")
    assert model.metrics["roc_auc"] == pytest.approx(auc, abs=1e-4)
    assert (model.metrics["n_train"], model.metrics["n_test"], model.metrics["positives"]) == (240, 60, churned)
    # the strongest features it prints are the stored coefficients, with the file's churn drivers among them
    coef = {f["name"]: f["coef"] for f in model.params["features"]}
    assert coef["tenure"] < 0 < coef["Contract=Month-to-month"]
    strongest = out.split("Strongest features (standardised coefficients): ", 1)[1].splitlines()[0]
    assert f"Contract=Month-to-month {coef['Contract=Month-to-month']:+.2f}" in strongest
    assert f"tenure {coef['tenure']:+.2f}" in strongest
    assert not any(name.startswith(("Churn", "customerID")) for name in coef)  # neither label nor id is a feature
    assert model.params["label"] == {"type": "attribute", "key": "Churn"}
    assert not model.active  # an evaluation does not replace the model the CRM uses


def test_running_it_twice_imports_nothing_new(tmp_path, capsys):
    data = tmp_path / "telco.csv"
    write_csv(data, n=120)
    call_command("marketing_eval", "--data", str(data), "--cv", "0")
    call_command("marketing_eval", "--data", str(data), "--cv", "0")
    assert "Imported 0 contacts (120 already there)" in capsys.readouterr().out
    assert Contact.objects.count() == 120


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="not part of the repository"):
        call_command("marketing_eval", "--data", str(tmp_path / "absent.csv"))

"""Evaluate the churn model on the IBM Telco customer churn data set.

    python manage.py marketing_eval --data ../shared/data/Telco-Customer-Churn_IBM.csv

Imports each customer as a contact whose attributes are the CSV columns (through the same
import service a migration from another tool would use), trains the churn model on a
fixed-seed, stratified 80/20 hold-out split and prints the hold-out ROC AUC next to the
published anchor for logistic regression (0.83–0.84). Contacts go into whatever database
``DATABASE_URL`` points to; use a scratch database. Running it twice imports nothing new.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

ANCHOR = (0.83, 0.84)
LABEL = "Churn"
ID_FIELD = "customerID"


class Command(BaseCommand):
    help = "Import the Telco churn CSV as contacts, train churn risk, report hold-out ROC AUC against the anchor."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--data", required=True, help="Path to Telco-Customer-Churn CSV.")
        parser.add_argument("--seed", type=int, default=20240601, help="Seed of the hold-out split.")
        parser.add_argument("--test-size", type=float, default=0.2)
        parser.add_argument("--cv", type=int, default=5, help="Also report k-fold cross-validated AUC (0 = skip).")
        parser.add_argument(
            "--activate",
            action="store_true",
            help="Make the trained model the active churn model and score the contacts.",
        )

    def handle(self, *args, **options) -> None:
        from hitl_crm.contacts.models import Contact
        from marketing.models import PredictiveModel
        from marketing.services import contact_scores_refresh, contacts_import_attributes, predictive_model_train

        path = Path(options["data"])
        if not path.is_file():
            raise CommandError(f"No such file: {path} (the data set is not part of the repository).")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or ID_FIELD not in rows[0] or LABEL not in rows[0]:
            raise CommandError(f"Expected the Telco columns ({ID_FIELD}, …, {LABEL}).")
        blank = 0
        for row in rows:
            # 11 customers have a blank TotalCharges: all have tenure 0, i.e. they have not been
            # billed yet. Their total is 0, not unknown.
            if not row.get("TotalCharges", "").strip():
                row["TotalCharges"] = "0"
                blank += 1
        started = time.perf_counter()
        imported = contacts_import_attributes(rows=rows, id_field=ID_FIELD, source="telco")
        self.stdout.write(
            f"Imported {imported['created']} contacts ({imported['skipped']} already there) in "
            f"{time.perf_counter() - started:.1f}s; {blank} blank TotalCharges set to 0 (tenure-0 customers)."
        )
        contacts = Contact.objects.filter(attributes__external_id__startswith="telco:")
        started = time.perf_counter()
        model = predictive_model_train(
            kind=PredictiveModel.Kind.CHURN,
            contacts=contacts,
            label_attribute=LABEL,
            seed=options["seed"],
            test_size=options["test_size"],
            activate=options["activate"],
        )
        m = model.metrics
        self.stdout.write(
            f"Churn model v{model.version}: {m['features']} features, trained on {m['n_train']}, "
            f"held out {m['n_test']} (churn rate {m['base_rate']:.1%}) in {time.perf_counter() - started:.1f}s"
        )
        auc = m["roc_auc"]
        verdict = "above" if auc > ANCHOR[1] else "within" if auc >= ANCHOR[0] else "below"
        self.stdout.write(f"Hold-out ROC AUC: {auc:.4f}  (accuracy at 0.5: {m['accuracy']:.4f})")
        self.stdout.write(f"Published anchor, logistic regression: {ANCHOR[0]:.2f}-{ANCHOR[1]:.2f} -> {verdict} it")
        if options["cv"] > 1:
            mean, sd = self._cross_validate(contacts, options["cv"], options["seed"])
            self.stdout.write(f"{options['cv']}-fold cross-validated ROC AUC: {mean:.4f} ± {sd:.4f}")
        top = sorted(model.params["features"], key=lambda f: -abs(f["coef"]))[:8]
        self.stdout.write(
            "Strongest features (standardised coefficients): " + ", ".join(f"{f['name']} {f['coef']:+.2f}" for f in top)
        )
        if options["activate"]:
            scored = contact_scores_refresh(kind=PredictiveModel.Kind.CHURN, contacts=contacts)
            self.stdout.write(f"Scored {scored} contacts with the new active model.")

    def _cross_validate(self, contacts, folds: int, seed: int) -> tuple[float, float]:
        import numpy as np
        from django.utils import timezone
        from sklearn.model_selection import StratifiedKFold

        from marketing.conf import app_settings
        from marketing.predictive import fit_spec, label_value, predict, records_for, roc_auc

        labels_by_pk = {pk: label_value(v) for pk, v in contacts.values_list("pk", f"attributes__{LABEL}")}
        records = records_for(contacts, as_of=timezone.now(), exclude=(*app_settings.IGNORED_ATTRIBUTES, LABEL))
        records = [r for r in records if labels_by_pk.get(r.contact_id) is not None]
        labels = np.array([labels_by_pk[r.contact_id] for r in records])
        scores = []
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(records, labels):
            params = fit_spec([records[i] for i in train], labels[train])
            scores.append(roc_auc(labels[test], predict(params, [records[i] for i in test])))
        return float(np.mean(scores)), float(np.std(scores))

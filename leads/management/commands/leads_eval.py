"""``manage.py leads_eval --data PATH``: the scoring model on the public "Leads X Education" data.

The file goes through the product's own importer (columns mapped to lead fields and custom
attributes), the model is trained by the product's own training service on the imported
leads with a fixed-seed stratified hold-out, and the hold-out ROC AUC and accuracy are
printed next to the published anchor. Columns that sales staff fill in *after* contact
(Tags, Lead Quality, Lead Profile, Asymmetrique *, Last Notable Activity) leak the outcome
and are left out, as is Lead Number (a sequential id).

Everything is rolled back at the end unless ``--keep`` is given: the evaluation never
leaves thousands of leads in the CRM.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import numpy as np
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads import csv_parsing, learning
from leads.conf import app_settings
from leads.features import FIELD_FEATURES, Column, Feature, attribute_feature, infer_kind
from leads.import_jobs import IMPORT_PERMISSION
from leads.management.actor import add_user_argument, command_actor
from leads.models import Lead
from leads.services import lead_import_create, lead_import_run, lead_import_start
from leads.training import load_features, scoring_model_train, training_set

ANCHOR = "logistic regression, 15 features: ROC AUC 0.88, accuracy 0.81 (ArnabSaha1/Lead_Scoring_optimisation)"
LEAKY = ("Tags", "Lead Quality", "Lead Profile", "Last Notable Activity")
LEAKY_PREFIXES = ("Asymmetrique",)
NOT_FEATURES = {"Lead Number": "a sequential id"}
FIELDS = {
    "Prospect ID": "external_id",
    "Converted": "won",
    "Lead Source": "source",
    "Do Not Email": "do_not_email",
    "Country": "country",
}


class _Rollback(Exception):
    pass


def is_leaky(header: str) -> bool:
    return header in LEAKY or header.startswith(LEAKY_PREFIXES)


def eval_mapping(headers: list[str]) -> dict[str, str]:
    mapping = {}
    for index, header in enumerate(headers):
        if not header or is_leaky(header) or header in NOT_FEATURES:
            mapping[str(index)] = csv_parsing.IGNORE
        elif header in FIELDS:
            mapping[str(index)] = f"field:{FIELDS[header]}"
        else:
            mapping[str(index)] = f"attribute:{header}"
    return mapping


def eval_features(mapping: dict[str, str], leads: QuerySet[Lead]) -> list[Feature]:
    """Every mapped column except the label and the id, with its kind read from the imported values."""
    features: list[Feature] = []
    sample = list(leads.values_list("attributes", flat=True)[:3000])
    for target in mapping.values():
        kind, _, name = target.partition(":")
        if kind == "field" and name in FIELD_FEATURES:
            features.append(FIELD_FEATURES[name])
        elif kind == "attribute":
            features.append(attribute_feature(name, infer_kind(a.get(name) for a in sample)))
    return features


class Command(BaseCommand):
    help = "Import the Leads X Education CSV through the importer, train, and print hold-out ROC AUC and accuracy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, help="Path to Leads_X_Education.csv (not part of the repo).")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the stratified hold-out split.")
        parser.add_argument("--holdout", type=float, default=0.25, help="Share held out for the figures.")
        parser.add_argument("--folds", type=int, default=5, help="Also report k-fold cross-validated ROC AUC (0: no).")
        parser.add_argument("--keep", action="store_true", help="Keep the imported leads and the model.")
        add_user_argument(parser)

    def handle(
        self, *args: Any, data: str, seed: int, holdout: float, folds: int, keep: bool, user: str, **options: Any
    ) -> None:
        actor = command_actor(user, IMPORT_PERMISSION)
        path = Path(data)
        if not path.is_file():
            raise CommandError(
                f"No data file at {path}. The Leads X Education dataset is not part of the repository; pass its "
                "path, e.g. --data ../shared/data/Leads_X_Education.csv (see ../shared/data/README.md)."
            )
        try:
            with transaction.atomic():
                self._run(path, actor=actor, seed=seed, holdout=holdout, folds=folds)
                if not keep:
                    raise _Rollback
        except _Rollback:
            self.stdout.write("Rolled back: nothing was kept (use --keep to keep the leads and the model).")

    def _run(self, path: Path, *, actor: User, seed: int, holdout: float, folds: int) -> None:
        started = time.perf_counter()
        try:
            imp = lead_import_create(file_name=path.name, data=path.read_bytes(), actor=actor)
        except ValidationError as exc:
            raise CommandError("; ".join(m for msgs in exc.message_dict.values() for m in msgs)) from None
        mapping = eval_mapping(imp.headers)
        if not any(t == "field:won" for t in mapping.values()):
            raise CommandError("The file has no 'Converted' column: nothing to learn from.")
        imp = lead_import_start(lead_import=imp, mapping=mapping, actor=actor, run=False)
        imp = lead_import_run(import_id=imp.pk)
        imported = time.perf_counter() - started
        self.stdout.write(
            f"{path.name}: {imp.total_rows:,} rows read as {imp.encoding}; imported {imp.created_rows:,}, "
            f"failed {imp.failed_rows:,}, duplicates {imp.skipped_rows:,} ({imported:.1f} s)"
        )
        left_out = [h for h in imp.headers if h and is_leaky(h)]
        self.stdout.write(f"Left out, filled in after contact (leak the outcome): {', '.join(left_out) or 'none'}")
        ids = [h for h in imp.headers if h in NOT_FEATURES]
        if ids:
            self.stdout.write(
                f"Left out, not a property of the lead: {', '.join(f'{h} ({NOT_FEATURES[h]})' for h in ids)}"
            )
        leads = Lead.objects.filter(lead_import=imp)
        features = eval_features(mapping, leads)
        self.stdout.write(f"Features ({len(features)}): " + ", ".join(f"{f.label} ({f.kind[:3]})" for f in features))
        try:
            model = scoring_model_train(
                features=features,
                leads=leads,
                activate=False,
                seed=seed,
                holdout=holdout,
                note=f"leads_eval {path.name}",
            )
        except Exception as exc:  # NotEnoughData and friends: say why
            raise CommandError(str(exc)) from exc
        m = model.metrics
        self.stdout.write("")
        self.stdout.write(f"{'hold-out':<28}{'ROC AUC':>10}{'accuracy':>10}{'train':>8}{'test':>8}{'converted':>11}")
        self.stdout.write(
            f"{f'{holdout:.0%}, seed {seed}':<28}{m['roc_auc']:>10.4f}{m['accuracy']:>10.4f}{m['n_train']:>8,}"
            f"{m['n_test']:>8,}{m['positive_rate']:>11.1%}"
        )
        if folds and folds > 1:
            aucs = self._cross_validate(features, leads, folds=folds, seed=seed)
            self.stdout.write(f"{f'{folds}-fold cross-validation':<28}{np.mean(aucs):>10.4f}  (± {np.std(aucs):.4f})")
        self.stdout.write(f"{'published anchor':<28}{0.88:>10.2f}{0.81:>10.2f}  {ANCHOR}")
        self.stdout.write(f"Total {time.perf_counter() - started:.1f} s.")

    def _cross_validate(self, features: list[Feature], leads: QuerySet[Lead], *, folds: int, seed: int) -> list[float]:
        """Stratified k-fold ROC AUC with the same encoders and regularisation as training."""
        from sklearn.model_selection import StratifiedKFold

        data = training_set(leads=leads)
        raw = load_features(features, data.ids, now=timezone.now())
        aucs: list[float] = []
        for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(data.ids, data.y):

            def take(rows: np.ndarray, values: Column) -> Column:
                return values[rows] if isinstance(values, np.ndarray) else [values[i] for i in rows]

            params = learning.fit(
                features,
                [take(train, v) for v in raw],
                data.y[train],
                data.weights[train],
                c=app_settings.REGULARISATION_C,
                min_count=app_settings.MIN_CATEGORY_COUNT,
                bins=min(app_settings.NUMERIC_BINS, len(train) // learning.ROWS_PER_BIN),
            )
            p = learning.probability(params, learning.encode(params, [take(test, v) for v in raw]))
            # Stratified folds: every test fold holds both outcomes, so roc_auc is never None here.
            aucs.append(cast(float, learning.roc_auc(data.y[test], p)))
        return aucs

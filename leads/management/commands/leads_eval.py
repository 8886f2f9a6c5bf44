"""``manage.py leads_eval --data PATH``: the scoring model on the public "Leads X Education" data.

The file goes through the product's own importer (columns mapped to lead fields and custom
attributes), the model is trained by the product's own training service on the imported
leads with a fixed-seed stratified hold-out, and the hold-out ROC AUC and accuracy are
printed next to the published anchor. Columns that sales staff fill in *after* contact
(Tags, Lead Quality, Lead Profile, Asymmetrique *, Last Notable Activity and its unfiltered
sibling Last Activity — "SMS Sent", "Had a Phone Conversation" are sales actions) leak the
outcome and are left out, as is Lead Number (a sequential id). ``--with-last-activity`` keeps
Last Activity in, only to show how much of a figure such a column makes up.

Besides the lead's own columns the model gets a few crosses of categorical columns
(occupation × origin, specialization × occupation, source × occupation, source × origin;
``--no-crosses`` leaves them out). Then, over ``--seeds`` hold-out seeds (mean ± sd), it
reports the ROC AUC of the model alone, of the **live blended score** (what every lead's
``score`` is: ``MODEL_WEIGHT`` × the model plus the rest × the rules, as ``leads.scoring``
computes it), of the rules alone and of a baseline (a model on time on site alone). The rules
are the CRM's active scoring rules, or, when there are none, the starter rules below — what a
business would write on day one, before any outcome is known.

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
from leads.features import CATEGORICAL, FIELD_FEATURES, Column, Feature, attribute_feature, cross_feature, infer_kind
from leads.import_jobs import IMPORT_PERMISSION
from leads.management.actor import add_user_argument, command_actor
from leads.models import Lead, ScoringRule
from leads.services import lead_import_create, lead_import_run, lead_import_start
from leads.training import SeedFigures, load_features, scoring_evaluate, scoring_model_train, training_set

ANCHOR = "logistic regression, 15 features: ROC AUC 0.88, accuracy 0.81 (ArnabSaha1/Lead_Scoring_optimisation)"
LEAKY = ("Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity")
LAST_ACTIVITY = "Last Activity"
LEAKY_PREFIXES = ("Asymmetrique",)
NOT_FEATURES = {"Lead Number": "a sequential id"}
FIELDS = {
    "Prospect ID": "external_id",
    "Converted": "won",
    "Lead Source": "source",
    "Do Not Email": "do_not_email",
    "Country": "country",
}


#: Pairs of columns crossed into one categorical feature each (when both are in the file).
CROSSES = (
    ("What is your current occupation", "Lead Origin"),
    ("Specialization", "What is your current occupation"),
    ("Lead Source", "What is your current occupation"),
    ("Lead Source", "Lead Origin"),
)
BASELINE = "Total Time Spent on Website"
#: Day-one rules for this dataset (used only when the CRM has no active scoring rule).
STARTER_RULES = (
    ("Came through the lead add form", ScoringRule.Target.ATTRIBUTE, "Lead Origin", "eq", "Lead Add Form", 30),
    (
        "Working professional",
        ScoringRule.Target.ATTRIBUTE,
        "What is your current occupation",
        "eq",
        "Working Professional",
        25,
    ),
    ("10+ minutes on the site", ScoringRule.Target.ATTRIBUTE, "Total Time Spent on Website", "gte", 600, 25),
    ("Referred by someone", ScoringRule.Target.FIELD, "source", "eq", "Reference", 15),
    ("Asked not to be emailed", ScoringRule.Target.FIELD, "do_not_email", "eq", True, -15),
)


class _Rollback(Exception):
    pass


def is_leaky(header: str, *, with_last_activity: bool = False) -> bool:
    if with_last_activity and header == LAST_ACTIVITY:
        return False
    return header in LEAKY or header.startswith(LEAKY_PREFIXES)


def eval_mapping(headers: list[str], *, with_last_activity: bool = False) -> dict[str, str]:
    mapping = {}
    for index, header in enumerate(headers):
        if not header or is_leaky(header, with_last_activity=with_last_activity) or header in NOT_FEATURES:
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


def eval_crosses(headers: list[str], mapping: dict[str, str], features: list[Feature]) -> list[Feature]:
    """The :data:`CROSSES` whose two columns are mapped to categorical features."""
    by_target = {f"{'field' if f.source == 'field' else 'attribute'}:{f.key}": f for f in features}
    by_header = {h: by_target.get(mapping[str(i)]) for i, h in enumerate(headers) if str(i) in mapping}
    crosses = []
    for first, second in CROSSES:
        a, b = by_header.get(first), by_header.get(second)
        if a is not None and b is not None and a.kind == CATEGORICAL and b.kind == CATEGORICAL:
            crosses.append(cross_feature(a, b))
    return crosses


def starter_rules(headers: list[str]) -> list[ScoringRule]:
    """Unsaved :data:`STARTER_RULES` whose column is in the file."""
    present = set(headers)
    fields = {v: k for k, v in FIELDS.items()}
    return [
        ScoringRule(name=name, target=target, path=path, operator=op, value=value, points=points)
        for name, target, path, op, value, points in STARTER_RULES
        if (path in present if target == ScoringRule.Target.ATTRIBUTE else fields.get(path) in present)
    ]


def mean_sd(values: list[float | None]) -> str:
    given = [v for v in values if v is not None]
    if not given:
        return "n/a"
    return f"{np.mean(given):.4f} ± {np.std(given):.4f}"


class Command(BaseCommand):
    help = "Import the Leads X Education CSV through the importer, train, and print hold-out ROC AUC and accuracy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, help="Path to Leads_X_Education.csv (not part of the repo).")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the stratified hold-out split.")
        parser.add_argument("--holdout", type=float, default=0.25, help="Share held out for the figures.")
        parser.add_argument("--folds", type=int, default=5, help="Also report k-fold cross-validated ROC AUC (0: no).")
        parser.add_argument("--seeds", type=int, default=5, help="Hold-out seeds for the mean ± sd table (0: none).")
        parser.add_argument(
            "--with-last-activity",
            action="store_true",
            help="Keep the Last Activity column (after-contact sales actions: leaks; for comparison only).",
        )
        parser.add_argument("--no-crosses", action="store_true", help="Leave out the crosses of categorical columns.")
        parser.add_argument("--c", type=float, default=None, help="Inverse L2 strength (default: the app setting).")
        parser.add_argument("--bins", type=int, default=None, help="Quantile bins per number (default: the setting).")
        parser.add_argument("--keep", action="store_true", help="Keep the imported leads and the model.")
        add_user_argument(parser)

    def handle(
        self, *args: Any, data: str, seed: int, holdout: float, folds: int, keep: bool, user: str, **options: Any
    ) -> None:
        self.options = options
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
        with_last_activity = bool(self.options.get("with_last_activity"))
        mapping = eval_mapping(imp.headers, with_last_activity=with_last_activity)
        if not any(t == "field:won" for t in mapping.values()):
            raise CommandError("The file has no 'Converted' column: nothing to learn from.")
        imp = lead_import_start(lead_import=imp, mapping=mapping, actor=actor, run=False)
        imp = lead_import_run(import_id=imp.pk)
        imported = time.perf_counter() - started
        self.stdout.write(
            f"{path.name}: {imp.total_rows:,} rows read as {imp.encoding}; imported {imp.created_rows:,}, "
            f"failed {imp.failed_rows:,}, duplicates {imp.skipped_rows:,} ({imported:.1f} s)"
        )
        left_out = [h for h in imp.headers if h and is_leaky(h, with_last_activity=with_last_activity)]
        self.stdout.write(f"Left out, filled in after contact (leak the outcome): {', '.join(left_out) or 'none'}")
        if with_last_activity and LAST_ACTIVITY in imp.headers:
            self.stdout.write(f"Kept on request although it leaks: {LAST_ACTIVITY} (figures are not honest)")
        ids = [h for h in imp.headers if h in NOT_FEATURES]
        if ids:
            self.stdout.write(
                f"Left out, not a property of the lead: {', '.join(f'{h} ({NOT_FEATURES[h]})' for h in ids)}"
            )
        leads = Lead.objects.filter(lead_import=imp)
        features = eval_features(mapping, leads)
        if not self.options.get("no_crosses"):
            features += eval_crosses(imp.headers, mapping, features)
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
        n_seeds = int(self.options.get("seeds") or 0)
        if n_seeds > 0:
            self._seeds(imp.headers, mapping, features, leads, seeds=list(range(seed, seed + n_seeds)), holdout=holdout)
        self.stdout.write(f"Total {time.perf_counter() - started:.1f} s.")

    def _seeds(
        self,
        headers: list[str],
        mapping: dict[str, str],
        features: list[Feature],
        leads: QuerySet[Lead],
        *,
        seeds: list[int],
        holdout: float,
    ) -> None:
        rules = list(ScoringRule.objects.filter(active=True).order_by("id"))
        origin = "the CRM's active scoring rules"
        if not rules:
            rules, origin = starter_rules(headers), "starter rules (the CRM has none active)"
        baseline = [f for f in features if f.key == BASELINE and f.source == "attribute"]
        figures: list[SeedFigures] = scoring_evaluate(
            features=features,
            leads=leads,
            rules=rules,
            baseline=baseline,
            seeds=seeds,
            holdout=holdout,
            c=self.options.get("c"),
            bins=self.options.get("bins"),
        )
        weight = app_settings.MODEL_WEIGHT if any(r.points > 0 for r in rules) else 1.0
        self.stdout.write("")
        self.stdout.write(f"Rules ({origin}): " + "; ".join(f"{r.name} {r.points:+d}" for r in rules))
        self.stdout.write(
            f"ROC AUC over {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}), {holdout:.0%} hold-out, mean ± sd:"
        )
        rows = [
            ("model alone", [f.model for f in figures]),
            (f"live blended score ({weight:.0%} model)", [f.blended for f in figures]),
            (f"rules alone ({len(rules)} rules)", [f.rules for f in figures]),
            (f"baseline: {BASELINE} alone", [f.baseline for f in figures]),
        ]
        for label, values in rows:
            self.stdout.write(f"  {label:<44}{mean_sd(values)}")

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

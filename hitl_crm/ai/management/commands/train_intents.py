"""``manage.py train_intents [--csv PATH --text-col text --label-col intent --category-col category]``

Trains the offline intent classifier (TF-IDF + logistic regression) on every human-labelled
``IntentExample`` plus, optionally, a CSV, stores it as JSON in ``TrainedModel`` and activates it.
``--save-examples`` stores the CSV rows with bulk inserts (batches of 1,000, one transaction).

It prints the hold-out accuracy / macro-F1, the calibration of the confidence on that hold-out
(temperature, expected calibration error over 10 bins before and after), the training time,
the stored model size and the time to load it from its JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hitl_crm.ai.evaluation import LabelledText, read_rows
from hitl_crm.ai.models import IntentExample
from hitl_crm.ai.nlp.intent import IntentModel
from hitl_crm.ai.services import intent_examples_import, intent_model_train


class Command(BaseCommand):
    help = "Train the intent classifier from labelled examples (and an optional CSV) and activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", type=Path, help="Extra labelled data (UTF-8 CSV with a header row).")
        parser.add_argument("--text-col", default="text", help="CSV column with the message text (default: text).")
        parser.add_argument("--label-col", default="intent", help="CSV column with the intent (default: intent).")
        parser.add_argument("--category-col", default="", help="CSV column with the category (optional).")
        parser.add_argument(
            "--save-examples",
            action="store_true",
            help="Also store the CSV rows as IntentExample(source=import) for future trainings.",
        )
        parser.add_argument("--holdout", type=float, default=0.2, help="Share held out to report metrics (0 = none).")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--c", type=float, default=10.0, help="Inverse regularisation strength of the LR.")
        parser.add_argument("--no-activate", action="store_true", help="Store the model without activating it.")

    def handle(self, *args: Any, **options: Any) -> None:
        extra: list[LabelledText] = []
        path: Path | None = options["csv"]
        if path is not None:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            required = [options["text_col"], options["label_col"]] + (
                [options["category_col"]] if options["category_col"] else []
            )
            try:
                rows = read_rows(path, required=required)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            extra = [
                LabelledText(
                    r[options["text_col"]].strip(),
                    r[options["label_col"]].strip(),
                    r.get(options["category_col"], "").strip() if options["category_col"] else "",
                )
                for r in rows
                if r[options["text_col"]].strip() and r[options["label_col"]].strip()
            ]
            if options["save_examples"]:
                started = time.perf_counter()
                try:
                    stored = intent_examples_import(rows=extra, source=IntentExample.Source.IMPORT)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
                self.stdout.write(
                    f"Stored {stored:,} labelled examples (bulk insert, {time.perf_counter() - started:.1f} s)."
                )
                extra = []  # now part of the stored examples
        started = time.perf_counter()
        try:
            model = intent_model_train(
                extra=extra,
                activate=not options["no_activate"],
                holdout=options["holdout"],
                seed=options["seed"],
                c=options["c"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        trained_in = time.perf_counter() - started
        metrics = model.metrics
        self.stdout.write(f"Trained {model.label} on {model.trained_on} examples, {len(metrics['intents'])} intents.")
        if "holdout" in metrics:
            h = metrics["holdout"]
            self.stdout.write(
                f"Hold-out ({h['size']} items, seed {h['seed']}): accuracy {h['accuracy']:.4f}, "
                f"macro-F1 {h['macro_f1']:.4f}"
            )
        else:
            self.stdout.write("Too few examples per intent for a hold-out score.")
        cal = metrics.get("calibration")
        if cal:
            self.stdout.write(
                f"Calibration (temperature {cal['temperature']:.3f}, fitted on {cal['fitted_on']} held-out items): "
                f"ECE ({cal['bins']} bins) {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after "
                "(after: cross-fitted over two halves of the hold-out)"
            )
        else:
            self.stdout.write("Confidence not calibrated: no hold-out (raw model probabilities are served).")
        text = json.dumps(model.params, separators=(",", ":"))
        started = time.perf_counter()
        IntentModel.from_params(json.loads(text))
        loaded_in = time.perf_counter() - started
        self.stdout.write(
            f"Training {trained_in:.1f} s; model {len(text) / 1e6:.2f} MB JSON "
            f"({len(model.params['featurizer']['terms']):,} terms); load {loaded_in * 1000:.0f} ms"
        )
        state = "active" if model.active else "stored, not active"
        self.stdout.write(self.style.SUCCESS(f"{model.label} is {state}."))

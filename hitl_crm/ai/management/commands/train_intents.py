"""``manage.py train_intents [--csv PATH --text-col text --label-col intent --category-col category]``

Trains the offline intent classifier (TF-IDF + logistic regression) on every human-labelled
``IntentExample`` plus, optionally, a CSV, stores it as JSON in ``TrainedModel`` and activates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hitl_crm.ai.evaluation import LabelledText, read_rows
from hitl_crm.ai.models import IntentExample
from hitl_crm.ai.services import intent_example_add, intent_model_train


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
                for row in extra:
                    intent_example_add(
                        text=row.text, intent=row.intent, category=row.category, source=IntentExample.Source.IMPORT
                    )
                extra = []  # now part of the stored examples
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
        state = "active" if model.active else "stored, not active"
        self.stdout.write(self.style.SUCCESS(f"{model.label} is {state}."))

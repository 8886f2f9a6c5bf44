from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.services import NotEnoughData, scoring_model_train


class Command(BaseCommand):
    help = "Train a new scoring model on won, lost and overridden leads; activate it and rescore every lead."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-activate", action="store_true", help="Store the new version without using it.")

    def handle(self, *args: Any, no_activate: bool, **options: Any) -> None:
        try:
            model = scoring_model_train(activate=not no_activate, note="manage.py leads_train")
        except NotEnoughData as exc:
            raise CommandError(str(exc)) from None
        m = model.metrics
        self.stdout.write(
            f"Model v{model.version} trained on {m['n_train']:,} leads ({m['n_overrides']:,} overrides); "
            f"hold-out of {m['n_test']:,}: ROC AUC {m['roc_auc']}, accuracy {m['accuracy']}"
            f"{'' if no_activate else '; now scoring every lead'}."
        )

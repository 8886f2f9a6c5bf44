from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leads.scoring import leads_rescore


class Command(BaseCommand):
    help = "Recompute every lead's score now (or only the ones changed since they were scored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dirty", action="store_true", help="Only leads changed since they were last scored.")

    def handle(self, *args: Any, dirty: bool, **options: Any) -> None:
        result = leads_rescore(dirty=dirty)
        self.stdout.write(
            f"Scored {result.scored:,} leads ({result.changed:,} changed score or tier) in "
            f"{result.seconds:.2f} s with model v{result.model_version or '—'}."
        )

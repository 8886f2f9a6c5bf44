"""``manage.py import_leads FILE``: the web importer's code path, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads import csv_parsing
from leads.import_jobs import IMPORT_PERMISSION
from leads.management.actor import add_user_argument, command_actor
from leads.services import lead_import_create, lead_import_error_report, lead_import_run, lead_import_start


def parse_map(items: list[str], headers: list[str], suggested: dict[str, str]) -> dict[str, str]:
    """Apply ``["Column=field:email", "Budget=attribute", "Notes=ignore", "Plan=attribute:Plan name"]``
    on top of the suggested mapping."""
    mapping = dict(suggested)
    index = {h: str(i) for i, h in enumerate(headers) if h}
    for item in items:
        column, sep, target = item.partition("=")
        column, target = column.strip(), target.strip()
        if not sep or column not in index:
            raise CommandError(f"--map {item!r}: use COLUMN=TARGET with a column of the file ({', '.join(index)}).")
        if target == "attribute":
            target = f"attribute:{column}"
        elif target in csv_parsing.FIELDS:
            target = f"field:{target}"
        mapping[index[column]] = target
    return mapping


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file, like the web importer: columns named like lead fields map to them, the "
        "others become custom attributes, unless --map says otherwise. Every row not imported is reported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The CSV file.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="TARGET: a field (email, first_name, source, won, …), field:NAME, attribute, "
            "attribute:NAME or ignore. Repeat for several columns.",
        )
        parser.add_argument(
            "--ignore-unmapped",
            action="store_true",
            help="Ignore every column not named by --map (instead of the suggested mapping).",
        )
        parser.add_argument("--update-existing", action="store_true", help="Update leads with the same email or id.")
        add_user_argument(parser)
        parser.add_argument("--owner", help="Username that owns new leads without an owner column.")
        parser.add_argument("--errors", metavar="FILE", help="Write the rows not imported (with reasons) here.")

    def handle(
        self,
        *args: Any,
        path: str,
        map: list[str],
        ignore_unmapped: bool,
        update_existing: bool,
        owner: str | None,
        errors: str | None,
        user: str,
        **options: Any,
    ) -> None:
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        actor = command_actor(user, IMPORT_PERMISSION)
        default_owner = None
        if owner:
            default_owner = get_user_model().objects.filter(username=owner, is_active=True).first()
            if default_owner is None:
                raise CommandError(f"No active user {owner!r}.")
        try:
            imp = lead_import_create(file_name=file.name, data=file.read_bytes(), actor=actor)
        except ValidationError as exc:
            raise CommandError("; ".join(m for msgs in exc.message_dict.values() for m in msgs)) from None
        delimiter = "tab" if imp.delimiter == "\t" else repr(imp.delimiter)
        self.stdout.write(
            f"{file.name}: read as {imp.encoding}, {delimiter}-separated, {imp.total_rows:,} rows, "
            f"{len(imp.headers)} columns."
        )
        suggested = dict.fromkeys(imp.mapping, csv_parsing.IGNORE) if ignore_unmapped else imp.mapping
        mapping = parse_map(map, imp.headers, suggested)
        for i, header in enumerate(imp.headers):
            if header:
                self.stdout.write(f"  {header:40} → {mapping.get(str(i), csv_parsing.IGNORE)}")
        try:
            imp = lead_import_start(
                lead_import=imp,
                actor=actor,
                mapping=mapping,
                update_existing=update_existing,
                default_owner=default_owner,
                run=False,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(m for msgs in exc.message_dict.values() for m in msgs)) from None
        imp = lead_import_run(import_id=imp.pk)
        self.stdout.write(
            f"{imp.get_status_display()}: {imp.created_rows:,} created, {imp.updated_rows:,} updated, "
            f"{imp.skipped_rows:,} duplicates skipped, {imp.failed_rows:,} failed "
            f"(import #{imp.pk})."
        )
        if imp.error:
            self.stderr.write(imp.error)
        if errors and (imp.skipped_rows or imp.failed_rows):
            Path(errors).write_text(lead_import_error_report(lead_import=imp), encoding="utf-8")
            self.stdout.write(f"Rows not imported, with reasons: {errors}")
        if imp.status != imp.Status.DONE:
            raise CommandError("The import stopped early; see the message above.")

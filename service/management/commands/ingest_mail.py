"""``manage.py ingest_mail PATH...``: read .eml files, folders of them and mbox files into cases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from service.inbound import MalformedMail, is_mbox, iter_mbox, parse_eml
from service.services import inbound_message_receive


def _sources(paths: list[str], problems: list[tuple[str, str]]) -> Iterator[tuple[str, bytes]]:
    """``(label, raw bytes)`` per message; unreadable paths are recorded in ``problems``."""
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not files:
                problems.append((str(path), "the folder holds no files"))
            for file in files:
                yield from _file(file, problems)
        elif path.is_file():
            yield from _file(path, problems)
        else:
            problems.append((str(path), "no such file or folder"))


def _file(path: Path, problems: list[tuple[str, str]]) -> Iterator[tuple[str, bytes]]:
    try:
        if is_mbox(path):
            yield from iter_mbox(path)
        else:
            yield str(path), path.read_bytes()
    except OSError as exc:
        problems.append((str(path), f"cannot be read ({exc.strerror or exc})"))


class Command(BaseCommand):
    help = (
        "Read customer email into support cases: .eml files, folders of .eml files and mbox files. "
        "Replies thread into their case; a message already received (same Message-ID) is skipped; "
        "malformed mail is listed with the reason. Exits non-zero only when no message could be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", help=".eml files, folders or mbox files")

    def handle(self, *args, paths: list[str], verbosity: int = 1, **options) -> None:
        counts: Counter[str] = Counter()
        malformed: list[tuple[str, str]] = []
        unreadable: list[tuple[str, str]] = []
        for label, raw in _sources(paths, unreadable):
            try:
                mail = parse_eml(raw)
            except MalformedMail as exc:
                malformed.append((label, str(exc)))
                continue
            result = inbound_message_receive(mail=mail, source="ingest_mail")
            counts[result.outcome] += 1
            if verbosity >= 2:
                self.stdout.write(f"  {label}: {result.outcome} (case #{result.case.pk})")
        read = sum(counts.values())
        self.stdout.write(
            f"Read {read + len(malformed)} message(s): {counts['created']} new case(s), "
            f"{counts['threaded']} threaded into existing cases, {counts['duplicate']} duplicate(s) skipped, "
            f"{len(malformed)} malformed."
        )
        for label, reason in malformed:
            self.stdout.write(self.style.WARNING(f"  malformed {label}: {reason}"))
        for label, reason in unreadable:
            self.stdout.write(self.style.ERROR(f"  unreadable {label}: {reason}"))
        if read == 0:
            raise CommandError("Nothing could be read: no message in the given paths could be stored.")

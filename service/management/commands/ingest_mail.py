"""``manage.py ingest_mail PATH...``: read .eml files, folders of them and mbox files into cases."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from service.inbound import MalformedMail, is_mbox, iter_mbox, parse_eml
from service.models import Message
from service.services import inbound_message_receive

logger = logging.getLogger(__name__)


def _handed_to_person(message_id: int) -> str:
    """Why the pipeline handed this message's case to a person because it failed ("" if it did not)."""
    message = Message.objects.filter(pk=message_id).select_related("case").first()
    if message is None or "failed" not in message.pipeline_note or not message.case.needs_human:
        return ""
    return message.case.needs_human_reason


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
        "malformed mail is listed with the reason, and so is a message the AI pipeline could not handle (its "
        "case goes to a person); the batch always goes on. Exits non-zero only when no message could be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", help=".eml files, folders or mbox files")

    # A batch loop that must survive every kind of bad item, plus its report: kept together on purpose.
    def handle(self, *args, paths: list[str], verbosity: int = 1, **options) -> None:  # noqa: C901
        counts: Counter[str] = Counter()
        malformed: list[tuple[str, str]] = []
        failed: list[tuple[str, str]] = []
        to_person: list[tuple[str, str]] = []
        unreadable: list[tuple[str, str]] = []
        for label, raw in _sources(paths, unreadable):
            try:
                mail = parse_eml(raw)
            except MalformedMail as exc:
                malformed.append((label, str(exc)))
                continue
            try:
                result = inbound_message_receive(mail=mail, source="ingest_mail")
            except Exception as exc:  # one bad item never stops the batch; it is reported below
                logger.exception("ingest_mail: %s could not be stored", label)
                failed.append((label, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"))
                continue
            counts[result.outcome] += 1
            if verbosity >= 2:
                self.stdout.write(f"  {label}: {result.outcome} (case #{result.case.pk})")
            if result.outcome != "duplicate":
                # With eager tasks the pipeline has run by now; with a broker it is queued and this finds nothing.
                handed = _handed_to_person(result.message.pk)
                if handed:
                    to_person.append((label, f"case #{result.case.pk}: {handed}"))
        read = sum(counts.values())
        self.stdout.write(
            f"Read {read + len(malformed) + len(failed)} message(s): {counts['created']} new case(s), "
            f"{counts['threaded']} threaded into existing cases, {counts['duplicate']} duplicate(s) skipped, "
            f"{len(malformed)} malformed"
            + (f", {len(failed)} failed" if failed else "")
            + (f", {len(to_person)} handed to a person" if to_person else "")
            + "."
        )
        for label, reason in malformed:
            self.stdout.write(self.style.WARNING(f"  malformed {label}: {reason}"))
        for label, reason in failed:
            self.stdout.write(self.style.ERROR(f"  failed {label}: {reason}"))
        for label, reason in to_person:
            self.stdout.write(self.style.WARNING(f"  needs a person {label}: {reason}"))
        for label, reason in unreadable:
            self.stdout.write(self.style.ERROR(f"  unreadable {label}: {reason}"))
        if read == 0:
            raise CommandError("Nothing could be read: no message in the given paths could be stored.")

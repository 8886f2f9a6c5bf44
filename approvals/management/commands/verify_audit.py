from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals.audit import anchors_from_log, audit_verify_report


class Command(BaseCommand):
    help = (
        "Check the approvals audit trail: hash chain, MACs, id gaps and anchors. Prints one line per "
        "problem and exits non-zero if there is any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchors-from-log",
            metavar="FILE",
            help="Also check against the anchors logged by hitl_crm.audit.anchor in FILE (JSON or text lines).",
        )

    def handle(self, *args, **options) -> None:
        log_anchors = None
        log_file = Path(options["anchors_from_log"]) if options.get("anchors_from_log") else None
        if log_file is not None:
            try:
                with log_file.open(encoding="utf-8", errors="replace") as lines:
                    log_anchors = anchors_from_log(lines)
            except OSError as exc:
                raise CommandError(f"Cannot read {log_file}: {exc.strerror or exc}") from exc
            if not log_anchors:
                raise CommandError(f"No audit anchors (hitl_crm.audit.anchor lines) found in {log_file}.")
        report = audit_verify_report(log_anchors=log_anchors)
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        for problem in report.problems:
            self.stdout.write(f"PROBLEM [{problem.kind}]: {problem.message}")
        anchors = f", {report.anchors_checked} anchor(s)"
        if log_anchors is not None:
            anchors += f", {report.log_anchors_checked} logged anchor(s)"
        if report.problems:
            raise CommandError(
                f"Audit trail check failed: {len(report.problems)} problem(s) in {report.checked} audit event(s)"
                f"{anchors}."
            )
        self.stdout.write(f"OK: {report.checked} audit event(s){anchors}, hash chain, MACs and anchors intact.")

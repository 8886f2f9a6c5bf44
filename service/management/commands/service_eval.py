"""``manage.py service_eval [--data tests/data/threads] [--show ID]``

Runs every labelled support thread of the corpus through the real service pipeline (triage,
summary, knowledge search, refund check, draft, routing into approval requests) and prints the
figures of :func:`hitl_crm.ai.evaluation.score_threads`: ask recall of the summaries, drafts
citing the right knowledge articles, refund precision and recall, commitments no flag names.

Everything happens inside one transaction that is rolled back at the end: the cases, messages,
AI runs and approval requests it creates are never kept, and nothing is sent (deliveries start
only on commit). The knowledge base is the demo's (``service.demo.ARTICLES``), installed for the
run when it is missing, and so are the service refund policies and fixed exchange rates into the
policies' currency (:data:`EVAL_EXCHANGE_RATES`; the demo seeds none), so a refund in pounds is
routed instead of refused for a missing rate: the run measures the AI, not the configuration.
The AI backends are whatever ``HITL_CRM_AI`` configures, so the same
command measures an LLM backend.

``--calibration`` also measures the draft confidence against the corpus: a draft is *right* when
it cites exactly the articles labelled as answering its thread (none when none does, as in
"drafts citing the right article(s)"). It prints the expected calibration error of the raw
confidence and of the calibrated one, the latter out of fold (stratified k-fold over the threads,
several seeds, mean ± sd), and the per-bin reliability table. ``--write`` refits the map on every
thread and stores it in :data:`hitl_crm.ai.skills.drafts.CALIBRATION_FILE`, which the offline
``draft_reply`` applies.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from approvals.models import ApprovalRequest, ExchangeRate
from hitl_crm.ai import evaluation
from hitl_crm.ai.nlp import calibration
from hitl_crm.ai.skills import drafts
from hitl_crm.contacts.models import Contact
from service.demo import ARTICLES
from service.models import Case, KnowledgeArticle, Message, RefundRequest
from service.pipeline import pipeline_run
from service.routing import SEND_REPLY, service_policies_ensure
from service.services import knowledge_article_seed

EVAL_DOMAIN = "eval.northwind-mail.example"
#: Units of USD (the refund policies' currency) per unit, for the run only: round, fixed figures
#: (not market data) so the figures do not move with the day's rates. Rates already configured win.
EVAL_EXCHANGE_RATES = {"GBP": Decimal("1.27"), "EUR": Decimal("1.08"), "CAD": Decimal("0.73")}
EVAL_BASE_CURRENCY = "USD"


def _exchange_rates_ensure() -> int:
    """Add :data:`EVAL_EXCHANGE_RATES` where no rate into the base currency exists yet; returns how many."""
    added = 0
    today = timezone.localdate()
    for currency, rate in EVAL_EXCHANGE_RATES.items():
        configured = ExchangeRate.objects.filter(
            currency=currency, base_currency=EVAL_BASE_CURRENCY, valid_from__lte=today
        ).exists()
        if not configured:
            ExchangeRate.objects.create(
                currency=currency, base_currency=EVAL_BASE_CURRENCY, rate=rate, valid_from=today
            )
            added += 1
    return added


#: How the stored draft map is fitted: isotonic with shrinkage (monotone, never above what the
#: corpus shows) rather than Platt scaling, which extrapolates to 0.99 from a handful of threads.
CALIBRATION_METHOD = "isotonic"


class _Rollback(Exception):
    """Raised to leave the evaluation's transaction without keeping anything."""


def _ask_lines(summary: str) -> list[str]:
    lines, inside = [], False
    for line in summary.splitlines():
        if line.startswith("Customer asks:"):
            inside = True
            continue
        if inside and line.startswith("- "):
            lines.append(line[2:])
        elif inside:
            inside = False
    return lines


def _thread_case(thread: dict[str, Any], index: int) -> Message:
    """The thread as a case with its messages; returns the newest customer message."""
    now = timezone.now()
    contact = Contact.objects.create(
        first_name="Alex", last_name=f"Tester{index}", email=f"customer{index}@{EVAL_DOMAIN}"
    )
    turns = thread["turns"]
    first_at = now - timedelta(days=float(turns[0].get("days_ago", 0)), minutes=len(turns))
    case = Case.objects.create(
        contact=contact,
        subject=thread.get("subject") or "Support request",
        thread_key=f"eval-{thread['id']}",
        last_message_at=first_at,
        waiting_since=first_at,
        created_at=first_at,
    )
    last: Message | None = None
    for position, turn in enumerate(turns):
        inbound = turn["role"] == "customer"
        at = now - timedelta(days=float(turn.get("days_ago", 0)), minutes=len(turns) - position)
        message = Message.objects.create(
            case=case,
            direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
            sender=contact.email if inbound else f"support@{EVAL_DOMAIN}",
            sender_name=contact.full_name if inbound else str(turn.get("author") or "Sue"),
            subject=case.subject if position == 0 else f"Re: {case.subject}",
            body=turn["text"],
            occurred_at=at,
            message_id=f"<eval-{thread['id']}-{position}@{EVAL_DOMAIN}>",
            processed_at=None if position == len(turns) - 1 else at,
            created_at=at,
        )
        if inbound:
            last = message
    if last is None or last.pk != message.pk:
        raise CommandError(f"Thread {thread['id']}: the last turn must be the customer's.")
    Case.objects.filter(pk=case.pk).update(thread_version=len(turns), last_message_at=message.occurred_at)
    return last


def _reply_request(message: Message) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.filter(
            action=SEND_REPLY, content_type=ContentType.objects.get_for_model(Case), object_id=str(message.case_id)
        )
        .select_related("ai_run")
        .order_by("-pk")
        .first()
    )


def _draft_confidence(thread: dict[str, Any], message: Message, outcome: evaluation.ThreadOutcome) -> dict[str, Any]:
    """The draft's raw and served confidence and whether it cites the right article(s)."""
    reply = _reply_request(message)
    output = (reply.ai_run.output if reply and reply.ai_run else None) or {}
    expected = set(thread["labels"].get("articles", []))
    cited = set(outcome.cited_titles)
    codes = {f.get("code") for f in output.get("flags") or []}
    return {
        "id": thread["id"],
        "raw": float(output.get("confidence_raw", output.get("confidence", 0.0))),
        "served": None if reply is None or reply.confidence is None else float(reply.confidence),
        "right": cited == set() if not expected else expected <= cited,
        # A draft that answers nothing keeps its fixed floor: never calibrated, never fitted on.
        "fixed": "no_grounding" in codes and not output.get("sources"),
    }


def _outcome(thread: dict[str, Any], message: Message) -> evaluation.ThreadOutcome:
    case = Case.objects.get(pk=message.case_id)
    reply = _reply_request(message)
    sources = (reply.ai_run.output.get("sources") if reply and reply.ai_run else None) or []
    ids = [int(s["id"].removeprefix("kb-")) for s in sources if str(s.get("id", "")).startswith("kb-")]
    articles = {a.pk: a for a in KnowledgeArticle.objects.filter(pk__in=ids)}
    refund = RefundRequest.objects.filter(case=case).order_by("-pk").first()
    flags = [*(reply.flags if reply else []), *(case.flags or [])]
    amount_unknown = any(f.get("code") == "refund_amount_unknown" for f in flags)
    return evaluation.ThreadOutcome(
        thread_id=thread["id"],
        labels=thread["labels"],
        ask_lines=_ask_lines(case.summary),
        facts=case.facts or {},
        draft=str(reply.proposal.get("body", "")) if reply else "",
        cited_titles=[articles[i].title for i in ids if i in articles],
        cited_texts=[f"{articles[i].title}\n{articles[i].body}" for i in ids if i in articles],
        flags=flags,
        refund_proposed=refund is not None or amount_unknown,
        refund_verdict=refund.recommendation if refund else "",
    )


class Command(BaseCommand):
    help = "Run the labelled support threads through the service pipeline and print the figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, help="Directory of thread files (default: tests/data/threads).")
        parser.add_argument(
            "--show", action="append", default=[], help="Print the summary and draft of this thread id."
        )
        parser.add_argument("--notes", action="store_true", help="Print every miss, thread by thread.")
        parser.add_argument(
            "--calibration",
            action="store_true",
            help="Also measure the draft confidence: ECE before/after (cross-validated) and the reliability table.",
        )
        parser.add_argument("--folds", type=int, default=5, help="Folds of the calibration cross-validation.")
        parser.add_argument("--seeds", type=int, default=5, help="Seeds (0…N-1) of the cross-validation.")
        parser.add_argument(
            "--write",
            action="store_true",
            help="With --calibration: refit the draft map on every thread and store it for draft_reply.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["data"] or Path(settings.BASE_DIR) / "tests" / "data" / "threads"
        if not directory.is_dir():
            raise CommandError(f"No such directory: {directory}. Pass the thread corpus with --data.")
        try:
            threads = evaluation.read_threads(directory)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["write"] and not options["calibration"]:
            raise CommandError("--write needs --calibration.")
        outcomes: list[evaluation.ThreadOutcome] = []
        confidences: list[dict[str, Any]] = []
        try:
            with transaction.atomic():
                service_policies_ensure()
                _exchange_rates_ensure()
                for article in ARTICLES:
                    if not KnowledgeArticle.objects.filter(title=article["title"], published=True).exists():
                        knowledge_article_seed(published=True, **article)
                for index, thread in enumerate(threads):
                    message = _thread_case(thread, index)
                    pipeline_run(message_id=message.pk)
                    outcome = _outcome(thread, message)
                    outcomes.append(outcome)
                    confidences.append(_draft_confidence(thread, message, outcome))
                    if thread["id"] in options["show"]:
                        case = Case.objects.get(pk=message.case_id)
                        self.stdout.write(
                            f"=== {thread['id']}\n--- summary\n{case.summary}\n--- draft\n{outcome.draft}"
                        )
                        self.stdout.write(
                            f"--- cited {outcome.cited_titles}; "
                            f"flags {[(f['code'], f['message'][:200]) for f in outcome.flags]}"
                        )
                raise _Rollback
        except _Rollback:
            pass
        result = evaluation.score_threads(outcomes)
        self.stdout.write(f"service_eval on {directory} ({len(threads)} threads; nothing kept)")
        width = max(len(k) for k in result.figures)
        for key, value in result.figures.items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            self.stdout.write(f"{key.ljust(width)}  {shown}")
        if options["notes"]:
            for note in result.notes:
                self.stdout.write(f"note: {note}")
        if options["calibration"]:
            self._calibration(confidences, directory, folds=options["folds"], seeds=options["seeds"])
            if options["write"]:
                self._write(confidences, directory, folds=options["folds"], seeds=options["seeds"])

    def _report(self, rows: list[dict[str, Any]], folds: int, seeds: int) -> dict[str, calibration.CrossValidation]:
        raw = [r["raw"] for r in rows]
        right = [r["right"] for r in rows]
        fixed = [r["fixed"] for r in rows]
        return {
            method: calibration.cross_validate_calibration(
                raw, right, method=method, folds=folds, seeds=range(seeds), fixed=fixed
            )
            for method in ("isotonic", "platt")
        }

    def _calibration(self, rows: list[dict[str, Any]], directory: Path, *, folds: int, seeds: int) -> None:
        rows = [r for r in rows if r["served"] is not None]
        if len(rows) < 4:
            raise CommandError("Too few drafts to measure calibration (at least 4 threads with a draft).")
        right = [r["right"] for r in rows]
        fitted = sum(not r["fixed"] for r in rows)
        reports = self._report(rows, folds, seeds)
        chosen = reports[CALIBRATION_METHOD]
        out = self.stdout.write
        out("")
        out(f"draft confidence calibration on {directory}")
        out(
            f"{len(rows)} drafts, {sum(right)} right (cite exactly the labelled article(s)); "
            f"{fitted} fitted on, {len(rows) - fitted} that answer nothing keep their fixed confidence."
        )
        out(
            f"Small sample: {len(rows)} threads, {len(rows) - sum(right)} wrong drafts. Each ECE bin holds a handful "
            "of drafts, so the figures move by several points with the fold split (see the sd); treat the map "
            "as a first fit, to be refitted on reviewers' decisions as they accumulate."
        )
        out(f"ECE (10 bins) raw confidence            {chosen.ece_before:.4f}")
        for method, report in reports.items():
            mark = " (stored map)" if method == CALIBRATION_METHOD else ""
            out(
                f"ECE {method:<8} out of fold{mark:<13} {report.after_mean:.4f} ± {report.after_sd:.4f} "
                f"({report.folds}-fold, {len(report.seeds)} seeds: {', '.join(f'{e:.4f}' for e in report.ece_after)})"
            )
        served = [r["served"] for r in rows]
        version = drafts.calibrated(0.5)[1] or "none"
        out(
            f"ECE of the confidence served to approvals with the stored map ({version}; in sample, "
            f"optimistic): {calibration.expected_calibration_error(served, right):.4f}"
        )
        out(f"reliability (raw → {CALIBRATION_METHOD} out of fold, seed 0):")
        out("  bin         n  raw conf  accuracy |   n  cal conf  accuracy")
        before = calibration.reliability_table([r["raw"] for r in rows], right)
        after = calibration.reliability_table(chosen.out_of_fold, right)
        for a, b in zip(before, after, strict=True):

            def cell(row: dict[str, Any]) -> str:
                if not row["count"]:
                    return f"{0:>3}  {'-':>8}  {'-':>8}"
                return f"{row['count']:>3}  {row['confidence']:>8.3f}  {row['accuracy']:>8.3f}"

            out(f"  {a['low']:.1f}–{a['high']:.1f}  {cell(a)} | {cell(b)}")

    def _write(self, rows: list[dict[str, Any]], directory: Path, *, folds: int, seeds: int) -> None:
        rows = [r for r in rows if r["served"] is not None]
        free = [r for r in rows if not r["fixed"]]
        mapping = calibration.fit_isotonic([r["raw"] for r in free], [r["right"] for r in free])
        reports = self._report(rows, folds, seeds)
        path = drafts.CALIBRATION_FILE
        previous: dict[str, Any] = {}
        if path.exists():
            previous = json.loads(path.read_text(encoding="utf-8"))
        version = int(previous.get("version", 0))
        if previous.get("map") != mapping.to_dict() or previous.get("offline_version") != drafts.OFFLINE_VERSION:
            version += 1
        data = {
            "skill": "draft_reply",
            "offline_version": drafts.OFFLINE_VERSION,
            "version": version,
            "correct": "the draft cites exactly the article(s) labelled as answering the thread (none when none does)",
            "corpus": f"{directory.name}: {len(rows)} threads, {len(free)} fitted on",
            "map": mapping.to_dict(),
            "report": {
                "bins": calibration.DEFAULT_BINS,
                "folds": reports[CALIBRATION_METHOD].folds,
                "seeds": list(reports[CALIBRATION_METHOD].seeds),
                "ece_before": reports[CALIBRATION_METHOD].ece_before,
                **{
                    f"ece_after_{method}": [round(r.after_mean, 4), round(r.after_sd, 4)]
                    for method, r in reports.items()
                },
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        drafts._calibration.cache_clear()
        self.stdout.write(f"wrote {path} (version {version})")

"""``manage.py ai_eval {triage,summarize,draft} --data PATH [options]`` and ``manage.py ai_eval --security``

Evaluates the offline skills on a labelled CSV (e.g. the Bitext customer-support set) and prints a
table: accuracy / macro-F1 for triage intents, key-fact recall and ROUGE for summaries, grounding
rate for drafts, and latency per item. Nothing is written to the database.

``--backend`` evaluates summaries and drafts on another backend than the offline one: ``configured``
(what ``HITL_CRM_AI`` sets for each skill), or a backend name or dotted path (``openai``,
``anthropic``, ``path.to.Backend``) with ``--model``, ``--base-url`` and ``--api-key-env``
(the name of the environment variable holding the key). Failed calls are counted, not fatal.

``--security`` (or ``ai_eval security``) prints the recall and false positives of the commitment
guards, the injection detector and the redaction of personal data on the corpora in ``--data``
(a directory; default ``tests/data``): ``guard_corpus.jsonl``, ``injection_corpus.jsonl`` and
``pii_corpus.jsonl``. ``--region`` sets the site region used for phone numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hitl_crm.ai import evaluation


class Command(BaseCommand):
    help = "Evaluate an offline AI skill on a CSV and print the figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("skill", nargs="?", choices=["triage", "summarize", "draft", "security"])
        parser.add_argument(
            "--security", action="store_true", help="Guard, injection and PII figures on the security corpora."
        )
        parser.add_argument(
            "--data", type=Path, help="CSV file with a header row (a directory of corpora for --security)."
        )
        parser.add_argument("--region", default="", help="Security: the site region for phone numbers (e.g. GB).")
        parser.add_argument("--text-col", default="instruction", help="Customer message column (default: instruction).")
        parser.add_argument("--label-col", default="intent", help="Intent label column (default: intent).")
        parser.add_argument("--category-col", default="category", help="Category column, if any (default: category).")
        parser.add_argument("--reference-col", default="response", help="Reference reply column (default: response).")
        parser.add_argument("--fact-col", default="entity_value", help="Labelled key fact column for summaries.")
        parser.add_argument("--test-size", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--c", type=float, default=10.0, help="Inverse regularisation strength (triage).")
        parser.add_argument("--limit", type=int, default=0, help="Evaluate at most this many items (0 = all).")
        parser.add_argument("--backend", default="offline", help="offline, configured, or a backend name/path.")
        parser.add_argument("--model", default="", help="With --backend: the model name.")
        parser.add_argument("--base-url", default="", help="With --backend: the OpenAI-compatible server's URL.")
        parser.add_argument("--api-key-env", default="", help="With --backend: the API key's environment variable.")
        parser.add_argument(
            "--as",
            dest="as_kind",
            choices=["exemplars", "articles"],
            default="exemplars",
            help="Drafts: use reference replies as approved exemplars or as knowledge articles.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["security"] or options["skill"] == "security":
            self._security(options)
            return
        if not options["skill"]:
            raise CommandError("Name a skill (triage, summarize, draft) or pass --security.")
        path: Path | None = options["data"]
        if path is None:
            raise CommandError("Pass the CSV with --data.")
        if not path.is_file():
            raise CommandError(f"No such file: {path}. Pass the CSV with --data.")
        if not 0 < options["test_size"] < 1:
            raise CommandError("--test-size must be between 0 and 1.")
        skill = options["skill"]
        text, label, ref = options["text_col"], options["label_col"], options["reference_col"]
        required = {"triage": [text, label], "summarize": [text, ref], "draft": [text, ref, label]}[skill]
        try:
            rows = evaluation.read_rows(path, required=required)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not rows:
            raise CommandError(f"{path} has no data rows.")
        columns = set(rows[0])
        runner = evaluation.backend_runner(self._backend(options))
        if skill == "triage":
            result = evaluation.eval_triage(
                rows,
                text_col=text,
                label_col=label,
                test_size=options["test_size"],
                seed=options["seed"],
                category_col=options["category_col"] if options["category_col"] in columns else "",
                c=options["c"],
            )
        elif skill == "summarize":
            result = evaluation.eval_summarize(
                rows,
                text_col=text,
                reference_col=ref,
                fact_col=options["fact_col"] if options["fact_col"] in columns else "",
                limit=options["limit"],
                runner=runner,
            )
        else:
            result = evaluation.eval_draft(
                rows,
                text_col=text,
                reference_col=ref,
                label_col=label,
                test_size=options["test_size"],
                seed=options["seed"],
                limit=options["limit"],
                as_kind=options["as_kind"],
                runner=runner,
            )
        self.stdout.write(
            f"ai_eval {skill} on {path.name} ({len(rows)} rows, seed {options['seed']}, backend {options['backend']})"
        )
        self._table(result)

    def _backend(self, options: dict[str, Any]) -> dict[str, Any] | None:
        name = str(options["backend"] or "offline")
        if name == "offline":
            if options["model"] or options["base_url"]:
                raise CommandError("--model and --base-url need --backend (e.g. --backend openai).")
            return None
        if name == "configured":
            return {"configured": True}
        if options["skill"] == "triage":
            raise CommandError("--backend evaluates summarize and draft; triage is evaluated offline.")
        return {
            "backend": name,
            "model": options["model"],
            "base_url": options["base_url"],
            "api_key_env": options["api_key_env"],
        }

    def _security(self, options: dict[str, Any]) -> None:
        directory: Path = options["data"] or Path(settings.BASE_DIR) / "tests" / "data"
        if not directory.is_dir():
            raise CommandError(f"No such directory: {directory}. Pass the corpora's directory with --data.")
        region = str(options["region"] or "").upper()
        if region and len(region) != 2:
            raise CommandError("--region must be a two-letter region code such as GB or US.")
        try:
            result = evaluation.eval_security(directory, region=region)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"ai_eval security on {directory}")
        self._table(result)

    def _table(self, result: evaluation.EvalResult) -> None:
        width = max(len(k) for k in result.figures)
        self.stdout.write(f"{'metric'.ljust(width)}  value")
        self.stdout.write(f"{'-' * width}  {'-' * 10}")
        for key, value in result.figures.items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            self.stdout.write(f"{key.ljust(width)}  {shown}")
        for note in result.notes:
            self.stdout.write(f"note: {note}")

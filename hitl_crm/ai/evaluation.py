"""Evaluation of the offline skills: metrics and the routines behind ``manage.py ai_eval``.

Metrics are implemented here (a few lines each) so the figures mean exactly what they say:
- triage: accuracy and macro-F1 of intents on a stratified hold-out split;
- summarize: key-fact recall (labelled entities found in the summary or its facts) and
  ROUGE-1 / ROUGE-L recall of the customer's request inside the summary;
- drafts: grounding rate (drafts whose answer sentences are all supported by a cited source),
  retrieval precision (the top cited source answers the same intent), ROUGE-L F1 against the
  reference reply, flag rate;
- latency per item for each.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from hitl_crm.ai.errors import BackendError
from hitl_crm.ai.nlp.text import tokens


def classification_report(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    labels = sorted(set(truth) | set(predicted))
    per_class: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    scored = [label for label in labels if per_class[label]["support"] > 0]
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth) if truth else 0.0
    macro = sum(per_class[label]["f1"] for label in scored) / len(scored) if scored else 0.0
    return {"accuracy": round(accuracy, 4), "macro_f1": round(macro, 4), "per_class": per_class, "n": len(truth)}


def rouge1_recall(candidate: str, reference: str) -> float:
    ref = Counter(tokens(reference))
    cand = Counter(tokens(candidate))
    total = sum(ref.values())
    return sum(min(count, cand[t]) for t, count in ref.items()) / total if total else 0.0


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> dict[str, float]:
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    lcs = _lcs(cand, ref)
    precision, recall = lcs / len(cand), lcs / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(ms), 3) if ms else 0.0, "p95_ms": round(percentile(ms, 95), 3)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - started) * 1000


def read_rows(path: Path, *, required: Iterable[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} has no column(s) {', '.join(missing)}; columns: {', '.join(reader.fieldnames or [])}"
            )
        return [row for row in reader if any(v.strip() for v in row.values() if isinstance(v, str))]


#: Runs one skill on one input and returns the engine's outcome (nothing saved).
Runner = Callable[[str, dict[str, Any]], Any]


def backend_runner(config: dict[str, Any] | None) -> Runner:
    """A runner for the evaluations: ``None`` runs every skill offline; ``{"configured": True}`` runs
    each skill on the backend ``HITL_CRM_AI`` configures for it; any other config (``backend``,
    ``model``, ``base_url`` …, merged over the skill's configuration) runs on that backend. External
    backends get the redacted inputs, exactly as in production; nothing is saved."""
    from hitl_crm.ai.backends import get_backend
    from hitl_crm.ai.conf import app_settings
    from hitl_crm.ai.engine import execute, known_pii, prepare_inputs, run_offline
    from hitl_crm.ai.skills import get_skill
    from hitl_crm.ai.trust import Redactor

    if not config:
        return run_offline
    overrides = {k: v for k, v in config.items() if k != "configured" and v not in (None, "")}

    def runner(skill: str, inputs: dict[str, Any]) -> Any:
        spec = get_skill(skill)
        clean = prepare_inputs(spec, inputs)
        effective = {**app_settings.backend_config(spec.name), **overrides}
        backend = get_backend(effective)
        redactor = Redactor(known_pii(None, None, clean))
        redacted = redactor.data(clean) if getattr(backend, "external", True) else clean
        return execute(spec, clean, backend=backend, config=effective, redactor=redactor, redacted=redacted)

    return runner


@dataclass(frozen=True)
class EvalResult:
    skill: str
    figures: dict[str, Any]
    notes: list[str]


@dataclass(frozen=True)
class LabelledText:
    text: str
    intent: str
    category: str = ""


def split_stratified(
    rows: Sequence[LabelledText], *, test_size: float, seed: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """Per-intent shuffled split with a fixed seed, so every intent is represented on both sides."""
    import random

    by_intent: dict[str, list[LabelledText]] = {}
    for row in rows:
        by_intent.setdefault(row.intent, []).append(row)
    rng = random.Random(seed)
    train: list[LabelledText] = []
    test: list[LabelledText] = []
    for intent in sorted(by_intent):
        group = list(by_intent[intent])
        rng.shuffle(group)
        cut = round(len(group) * test_size) if len(group) >= 2 else 0
        test.extend(group[:cut])
        train.extend(group[cut:])
    return train, test


def _split_rows(
    rows: Sequence[dict[str, str]], *, label_col: str, test_size: float, seed: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The same stratified split, over whole CSV rows (their index rides along as ``text``)."""
    keyed = [LabelledText(str(i), row[label_col]) for i, row in enumerate(rows)]
    train, test = split_stratified(keyed, test_size=test_size, seed=seed)
    return [rows[int(r.text)] for r in train], [rows[int(r.text)] for r in test]


def eval_triage(
    rows: Sequence[dict[str, str]],
    *,
    text_col: str,
    label_col: str,
    test_size: float,
    seed: int,
    category_col: str = "",
    c: float = 10.0,
) -> EvalResult:
    """Train on the split's train side (in memory, nothing saved), triage every test message."""
    from hitl_crm.ai.nlp.intent import fit_intent_model
    from hitl_crm.ai.skills.triage import analyse

    train, test = _split_rows(rows, label_col=label_col, test_size=test_size, seed=seed)
    model, train_ms = timed(
        lambda: fit_intent_model(
            [r[text_col] for r in train],
            [r[label_col] for r in train],
            categories=[r.get(category_col, "") for r in train] if category_col else None,
            c=c,
        )
    )
    predicted: list[str] = []
    latencies: list[float] = []
    for row in test:
        output, ms = timed(partial(analyse, {"text": row[text_col]}, model=model))
        predicted.append(output["intent"])
        latencies.append(ms)
    report = classification_report([r[label_col] for r in test], predicted)
    worst = sorted(report["per_class"].items(), key=lambda kv: kv[1]["f1"])[:3]
    figures = {
        "train items": len(train),
        "test items": len(test),
        "intents": len({r[label_col] for r in rows}),
        "accuracy": report["accuracy"],
        "macro-F1": report["macro_f1"],
        "train time s": round(train_ms / 1000, 2),
        **{f"latency {k}": v for k, v in latency_summary(latencies).items()},
    }
    notes = ["weakest intents: " + ", ".join(f"{label} F1={vals['f1']:.3f}" for label, vals in worst)]
    return EvalResult("triage", figures, notes)


def eval_summarize(
    rows: Sequence[dict[str, str]],
    *,
    text_col: str,
    reference_col: str,
    fact_col: str = "",
    limit: int = 0,
    runner: Runner | None = None,
) -> EvalResult:
    """Summarise each (customer, agent) exchange; score key facts kept and the request kept."""
    run_skill = runner or backend_runner(None)
    failures = 0
    sample = list(rows[:limit] if limit else rows)
    latencies: list[float] = []
    fact_hits: Counter[str] = Counter()
    fact_totals: Counter[str] = Counter()
    request_recall: list[float] = []
    compression: list[float] = []
    for row in sample:
        messages = [{"speaker": "customer", "text": row[text_col]}, {"speaker": "agent", "text": row[reference_col]}]
        try:
            outcome, ms = timed(partial(run_skill, "summarize", {"messages": messages}))
        except BackendError:
            failures += 1
            continue
        latencies.append(ms)
        output = outcome.output
        request_recall.append(rouge1_recall(output["summary"], row[text_col]))
        compression.append(len(output["summary"]) / max(1, len(row[text_col]) + len(row[reference_col])))
        value = (row.get(fact_col) or "").strip() if fact_col else ""
        if value:
            kind = row.get("entity_type") or "fact"
            fact_totals[kind] += 1
            haystack = (output["summary"] + " " + str(output["facts"])).lower()
            fact_hits[kind] += value.lower().lstrip("#") in haystack
    total = sum(fact_totals.values())
    figures: dict[str, Any] = {
        "items": len(sample),
        "key-fact recall": round(sum(fact_hits.values()) / total, 4) if total else "n/a",
        "request ROUGE-1 recall": round(statistics.mean(request_recall), 4) if request_recall else 0.0,
        "summary/source length": round(statistics.mean(compression), 3) if compression else 0.0,
        "backend failures": failures,
        **{f"latency {k}": v for k, v in latency_summary(latencies).items()},
    }
    notes = (
        ["key-fact recall by type: " + ", ".join(f"{k} {fact_hits[k]}/{fact_totals[k]}" for k in sorted(fact_totals))]
        if fact_totals
        else []
    )
    return EvalResult("summarize", figures, notes)


def eval_draft(
    rows: Sequence[dict[str, str]],
    *,
    text_col: str,
    reference_col: str,
    label_col: str,
    test_size: float,
    seed: int,
    limit: int = 0,
    as_kind: str = "exemplars",
    candidates: int = 10,
    runner: Runner | None = None,
) -> EvalResult:
    """Replies of the train side become the knowledge (or approved replies); each test message is drafted.

    The whole train side is too big to hand to one draft, so (as a CRM would) a first BM25 pass
    picks ``candidates`` sources, which the draft then retrieves from and composes with."""
    from hitl_crm.ai.skills.drafts import Retriever, Source, query_terms

    run_skill = runner or backend_runner(None)
    failures = 0
    train, test = _split_rows(rows, label_col=label_col, test_size=test_size, seed=seed)
    if limit:
        test = test[:limit]
    kind = "exemplar" if as_kind == "exemplars" else "article"
    library = [
        Source(
            str(i),
            r[label_col],
            kind,
            r[reference_col],
            f"{r[text_col]} {r[text_col]} {r[reference_col]}"
            if kind == "exemplar"
            else f"{r[label_col]} {r[reference_col]}",
        )
        for i, r in enumerate(train)
    ]
    index = Retriever(library)
    latencies: list[float] = []
    grounded = precise = flagged = answered = 0
    rouge: list[float] = []
    for row in test:
        hits = index.search(query_terms(row[text_col]), k=candidates)
        pool = [train[int(h.source.id)] | {"_id": h.source.id} for h in hits]
        inputs: dict[str, Any] = {"customer_text": row[text_col], "customer_name": "Sam"}
        if kind == "exemplar":
            inputs["exemplars"] = [{"id": p["_id"], "question": p[text_col], "reply": p[reference_col]} for p in pool]
        else:
            inputs["knowledge"] = [{"id": p["_id"], "title": p[label_col], "body": p[reference_col]} for p in pool]
        try:
            outcome, ms = timed(partial(run_skill, "draft_reply", inputs))
        except BackendError:
            failures += 1
            continue
        latencies.append(ms)
        output = outcome.output
        codes = {f["code"] for f in outcome.flags}
        if output["sources"]:
            answered += 1
            grounded += output["grounding"] >= 0.999 and "no_grounding" not in codes
            precise += train[int(output["sources"][0]["id"])][label_col] == row[label_col]
        flagged += bool(codes - {"no_grounding"})
        rouge.append(rouge_l(output["body"], row[reference_col])["f1"])
    n = len(test) or 1
    figures = {
        "test items": len(test),
        f"{as_kind} in library": len(library),
        "answered (cited a source)": round(answered / n, 4),
        "grounding rate": round(grounded / n, 4),
        "top source same intent": round(precise / answered, 4) if answered else 0.0,
        "guard-flag rate": round(flagged / n, 4),
        "ROUGE-L F1 vs reference": round(statistics.mean(rouge), 4) if rouge else 0.0,
        "backend failures": failures,
        **{f"latency {k}": v for k, v in latency_summary(latencies).items()},
    }
    return EvalResult("draft", figures, [f"first-pass BM25 picks {candidates} {as_kind} per message"])


# --- security: guards, injection detector, redaction ------------------------------------------------
#
# Each corpus is a JSON-lines file (see tests/data/): the figures say how many of its positives are
# caught and how many of its look-alike negatives are wrongly caught. Nothing is written anywhere.

GUARD_CORPUS = "guard_corpus.jsonl"
INJECTION_CORPUS = "injection_corpus.jsonl"
PII_CORPUS = "pii_corpus.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc}).") from None
    return rows


@dataclass(frozen=True)
class CorpusScore:
    """Recall over positives and false positives over negatives, with the misses by name."""

    positives: int
    caught: int
    negatives: int
    false_positives: int
    misses: list[str]
    wrongly_caught: list[str]

    @property
    def recall(self) -> float:
        return round(self.caught / self.positives, 4) if self.positives else 1.0

    def figures(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix} positives": self.positives,
            f"{prefix} negatives": self.negatives,
            f"{prefix} recall": self.recall,
            f"{prefix} false positives": self.false_positives,
        }


def score_guards(rows: list[dict[str, Any]]) -> CorpusScore:
    """Each row: ``text`` and ``expect`` (flag codes that must be raised; empty for a negative, which
    must raise none). A ``context`` row gives the sources, the known contact and the CRM contacts."""
    from hitl_crm.ai import guards

    context: dict[str, Any] = next((r["context"] for r in rows if "context" in r), {})
    people = [guards.Person(c["name"], c["email"]) for c in context.get("contacts", [])]

    def directory(emails: set[str], names: set[tuple[str, str]]) -> list[guards.Person]:
        return [p for p in people if p.email.lower() in emails or tuple(p.name.split(" ", 1)) in names]

    caught = positives = negatives = wrong = 0
    misses: list[str] = []
    wrongly: list[str] = []
    for row in (r for r in rows if "text" in r):
        flags = guards.check(
            [row["text"]],
            sources=row.get("sources", context.get("sources", [])),
            policy=row.get("policy", []),
            known=row.get("known", context.get("known", {})),
            directory=directory,
        )
        codes = {f["code"] for f in flags}
        if row["expect"]:
            positives += 1
            if set(row["expect"]) <= codes:
                caught += 1
            else:
                misses.append(row["text"])
        else:
            negatives += 1
            if codes:
                wrong += 1
                wrongly.append(f"{row['text']} → {', '.join(sorted(codes))}")
    return CorpusScore(positives, caught, negatives, wrong, misses, wrongly)


def score_injection(rows: list[dict[str, Any]]) -> CorpusScore:
    """Each row: ``text`` and ``injection`` (true or false)."""
    from hitl_crm.ai.nlp.risk import injection_flags

    caught = positives = negatives = wrong = 0
    misses: list[str] = []
    wrongly: list[str] = []
    for row in rows:
        hit = bool(injection_flags(row["text"]))
        if row["injection"]:
            positives += 1
            caught += hit
            if not hit:
                misses.append(row["text"])
        else:
            negatives += 1
            wrong += hit
            if hit:
                wrongly.append(row["text"])
    return CorpusScore(positives, caught, negatives, wrong, misses, wrongly)


def score_pii(rows: list[dict[str, Any]], *, region: str = "") -> CorpusScore:
    """Each row: ``text`` and ``values`` (the personal data in it; empty for a look-alike). A value
    counts as caught when it is absent from what a backend would receive (the redacted text); a
    look-alike is wrongly caught when redaction changes it at all. Positives count values."""
    from hitl_crm.ai.trust import Redactor

    caught = positives = negatives = wrong = 0
    misses: list[str] = []
    wrongly: list[str] = []
    for row in rows:
        redacted = Redactor(row.get("known") or {}, row.get("region", region)).text(row["text"])
        if row["values"]:
            for value in row["values"]:
                positives += 1
                if value in redacted:
                    misses.append(f"{value} in “{row['text']}”")
                else:
                    caught += 1
        else:
            negatives += 1
            if redacted != row["text"]:
                wrong += 1
                wrongly.append(f"{row['text']} → {redacted}")
    return CorpusScore(positives, caught, negatives, wrong, misses, wrongly)


def eval_security(directory: Path, *, region: str = "") -> EvalResult:
    """Guard, injection and PII figures on the three corpora in ``directory``."""
    figures: dict[str, Any] = {}
    notes: list[str] = []
    for name, prefix, scorer in (
        (GUARD_CORPUS, "guards", score_guards),
        (INJECTION_CORPUS, "injection", score_injection),
        (PII_CORPUS, "pii", lambda rows: score_pii(rows, region=region)),
    ):
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"No such file: {path}.")
        score = scorer(read_jsonl(path))
        figures.update(score.figures(prefix))
        notes += [f"{prefix} missed: {m}" for m in score.misses]
        notes += [f"{prefix} false positive: {w}" for w in score.wrongly_caught]
    return EvalResult("security", figures, notes)


# --- support threads: asks, articles, refunds, commitments ------------------------------------------
#
# A labelled thread corpus (``tests/data/threads/*.json``) is run through a caller's pipeline; the
# caller hands back one :class:`ThreadOutcome` per thread and these functions turn them into figures.
# Each thread's labels: ``asks`` (each with ``match``, the words the summary must keep for it, and
# ``article``, the knowledge article that answers it or null), ``articles`` (the articles a right
# draft cites; empty: no article answers, the draft must cite none), ``refund`` (the customer's last
# word asks for money back), and optionally ``refuted`` (words of an explanation the customer
# rejected, which the draft must not repeat), ``broken_promise`` and ``injection``.


@dataclass(frozen=True)
class ThreadOutcome:
    """What the pipeline produced for one labelled thread."""

    thread_id: str
    labels: dict[str, Any]
    ask_lines: list[str]  # the summary's ask lines
    facts: dict[str, Any]
    draft: str
    cited_titles: list[str]
    cited_texts: list[str]
    flags: list[dict[str, str]]
    refund_proposed: bool
    refund_verdict: str = ""


def read_threads(directory: Path) -> list[dict[str, Any]]:
    """Every thread of every ``*.json`` file in ``directory`` (a list of threads per file)."""
    import json

    threads: list[dict[str, Any]] = []
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"No *.json thread files in {directory}.")
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}).") from None
        for number, thread in enumerate(data, 1):
            missing = [k for k in ("id", "turns", "labels") if k not in thread]
            if missing:
                raise ValueError(f"{path}: thread {number} has no {', '.join(missing)}.")
            threads.append(thread)
    return threads


def ask_kept(match: Sequence[str], lines: Sequence[str]) -> bool:
    """Whether one summary line keeps every one of the ask's words (as written or by stem)."""
    from hitl_crm.ai.nlp.text import content_terms, stem

    for line in lines:
        lowered, terms = line.lower(), set(content_terms(line))
        if all(word.lower() in lowered or stem(word.lower()) in terms for word in match):
            return True
    return False


def _right_articles(expected: set[str], cited: set[str]) -> bool:
    return cited == set() if not expected else expected <= cited


def unflagged_commitments(outcome: ThreadOutcome) -> list[str]:
    """Money and commitment spans of the draft that no cited article holds and no flag names."""
    from hitl_crm.ai import guards

    grounded = " ".join(outcome.cited_texts).lower()
    flagged = " ".join(f.get("span", "") for f in outcome.flags).lower()
    return [
        span
        for span in guards.commitment_spans(outcome.draft)
        if span.lower() not in grounded and span.lower() not in flagged
    ]


def _ratio(hits: int, total: int) -> float | str:
    return round(hits / total, 4) if total else "n/a"


def score_threads(outcomes: Sequence[ThreadOutcome]) -> EvalResult:
    """Ask recall, right-article drafts, refund precision/recall, unflagged commitments and more."""
    asks = kept = 0
    right = article_asks = article_hits = 0
    tp = fp = fn = 0
    unflagged: list[str] = []
    repeated_refuted = refuted_total = 0
    broken_total = broken_flagged = 0
    injection_total = injection_flagged = 0
    facts_total = facts_kept = 0
    verdicts_total = verdicts_right = 0
    notes: list[str] = []
    for o in outcomes:
        labels = o.labels
        for ask in labels.get("asks", []):
            asks += 1
            if ask_kept(ask["match"], o.ask_lines):
                kept += 1
            else:
                notes.append(f"{o.thread_id}: summary dropped the ask {' '.join(ask['match'])!r}")
            if ask.get("article"):
                article_asks += 1
                article_hits += ask["article"] in o.cited_titles
        expected = set(labels.get("articles", []))
        if _right_articles(expected, set(o.cited_titles)):
            right += 1
        else:
            notes.append(f"{o.thread_id}: draft cites {sorted(set(o.cited_titles))}, expected {sorted(expected)}")
        truth = bool(labels.get("refund"))
        tp += truth and o.refund_proposed
        fp += (not truth) and o.refund_proposed
        fn += truth and not o.refund_proposed
        if truth != o.refund_proposed:
            notes.append(f"{o.thread_id}: refund {'missed' if truth else 'proposed wrongly'}")
        if labels.get("refund_verdict"):
            verdicts_total += 1
            verdicts_right += o.refund_verdict == labels["refund_verdict"]
        unflagged += [f"{o.thread_id}: {span}" for span in unflagged_commitments(o)]
        if labels.get("refuted"):
            refuted_total += 1
            if labels["refuted"].lower() in o.draft.lower():
                repeated_refuted += 1
                notes.append(f"{o.thread_id}: the draft repeats the refuted explanation")
        codes = {f.get("code") for f in o.flags}
        if labels.get("broken_promise"):
            broken_total += 1
            broken_flagged += "broken_promise" in codes
        if labels.get("injection"):
            injection_total += 1
            injection_flagged += "prompt_injection" in codes
        wanted_facts = [*labels.get("facts", {}).get("order_ids", []), *labels.get("facts", {}).get("amounts", [])]
        have = " ".join([*(o.facts.get("order_ids") or []), *(a.get("text", "") for a in o.facts.get("amounts") or [])])
        facts_total += len(wanted_facts)
        facts_kept += sum(f.lower() in have.lower() for f in wanted_facts)
    n = len(outcomes)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    figures: dict[str, Any] = {
        "threads": n,
        "labelled asks": asks,
        "ask recall of summaries": _ratio(kept, asks),
        "drafts citing the right article(s)": _ratio(right, n),
        "asks whose article the draft cites": _ratio(article_hits, article_asks),
        "refund precision": precision,
        "refund recall": recall,
        "refund verdicts as labelled": _ratio(verdicts_right, verdicts_total),
        "unflagged commitments": len(unflagged),
        "drafts repeating a refuted explanation": f"{repeated_refuted}/{refuted_total}",
        "broken promises flagged": f"{broken_flagged}/{broken_total}",
        "injections flagged": f"{injection_flagged}/{injection_total}",
        "fact recall (orders, amounts)": _ratio(facts_kept, facts_total),
    }
    notes += [f"unflagged commitment: {u}" for u in unflagged]
    return EvalResult("threads", figures, notes)

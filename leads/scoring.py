"""Scoring many leads at once: numpy over batches, one statement per batch to persist.

``leads_rescore`` is the one code path for every recompute — the debounced task after a
change, the nightly sweep, after training, after an import, and the benchmark:

1. load a batch of leads (one query) and their engagement (one aggregate query);
2. the model's probabilities, per-feature contributions and top factors (numpy);
3. the rules' points (numpy), normalised to 0–100;
4. blend (``leads.conf``), apply overrides, tier;
5. persist the batch with one statement on PostgreSQL — ``UPDATE … FROM jsonb_to_recordset(…)``
   (the batch as one JSON parameter; ``bench/leads_scoring.py`` compares it with
   ``UPDATE … FROM (VALUES …)`` and ``bulk_update``), elsewhere one prepared ``UPDATE`` run with
   ``executemany`` — and append score history for the leads whose score or tier changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from leads import features as feats
from leads import learning, rules
from leads.conf import app_settings
from leads.models import Lead, LeadScoreHistory, ScoringModel, ScoringRule

if TYPE_CHECKING:
    from concurrent.futures import Future

logger = logging.getLogger(__name__)

RESCORE_SCHEDULED_KEY = "leads:rescore-scheduled"
PERSISTED_FIELDS = (
    "score",
    "tier",
    "computed_score",
    "model_probability",
    "rules_points",
    "score_factors",
    "model_version",
    "scored_at",
)


def tier_of(scores: np.ndarray | Sequence[int]) -> list[str]:
    """A ≥ 75, B ≥ 50, C ≥ 25, D below (thresholds in ``HITL_CRM_LEADS_TIER_THRESHOLDS``)."""
    t = app_settings.TIER_THRESHOLDS
    arr = np.asarray(scores, dtype=float)
    out = np.full(arr.shape, "D", dtype="<U1")
    out[arr >= t["C"]] = "C"
    out[arr >= t["B"]] = "B"
    out[arr >= t["A"]] = "A"
    return out.tolist()


@dataclass
class Scorer:
    """The active model and rules, loaded once per run."""

    model: ScoringModel | None
    params: dict[str, Any] | None
    features: list[feats.Feature]
    rules: list[ScoringRule]

    @classmethod
    def current(cls) -> Scorer:
        model = ScoringModel.objects.filter(active=True).first()
        params = model.params if model else None
        return cls(
            model=model,
            params=params,
            features=learning.features_of(params) if params else [],
            rules=list(ScoringRule.objects.filter(active=True).order_by("id")),
        )

    @property
    def uses_rules(self) -> bool:
        return any(r.points > 0 for r in self.rules)

    @property
    def can_score(self) -> bool:
        return self.params is not None or self.uses_rules

    @property
    def weight(self) -> float:
        """The model's share of the score: 0 without a model, 1 without positive rules."""
        if self.params is None:
            return 0.0
        return float(app_settings.MODEL_WEIGHT) if self.uses_rules else 1.0

    def needs(self) -> tuple[set[str], bool, dict[str, feats.EventAggregate]]:
        f_fields, f_attrs, f_events = feats.needs(self.features)
        r_fields, r_attrs, r_events = rules.needs(self.rules)
        return f_fields | r_fields, f_attrs or r_attrs, {**f_events, **r_events}

    def load(self, ids: Sequence[int], *, now: datetime) -> feats.Batch:
        fields, attributes, events = self.needs()
        return feats.load_batch(ids, fields=fields, attributes=attributes, events=events, now=now)

    def compute(self, batch: feats.Batch) -> dict[str, Any]:
        """Scores, tiers, probabilities, points and factors for every lead of the batch."""
        n = len(batch)
        k = app_settings.TOP_FACTORS
        blended = np.zeros(n)
        probability = points = None
        factors: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        w = self.weight
        if self.params is not None:
            raw = [batch.values(f) for f in self.features]
            x = learning.encode(self.params, raw)
            probability = learning.probability(self.params, x)
            blended += w * probability * 100
            contrib = learning.contributions(self.params, x)
            factors = learning.top_factors(self.features, raw, contrib, k=k)
        if self.rules:
            result = rules.evaluate(self.rules, batch)
            points = result.points
            if self.uses_rules:
                blended += (1 - w) * result.normalised()
            for row, extra in zip(factors, rules.rule_factors(self.rules, result, k=k), strict=True):
                row.extend(extra)
        computed = np.clip(np.rint(blended), 0, 100).astype(int)
        effective = np.array(
            [o if o is not None else c for o, c in zip(batch.override, computed, strict=True)], dtype=int
        )
        return {
            "computed": computed,
            "effective": effective,
            "tier": tier_of(effective),
            "probability": probability,
            "points": points,
            # model factors up (strongest first), then down (strongest first), then rules by weight
            "factors": factors,
        }


# --- persisting ------------------------------------------------------------------------------


def _rows(batch: feats.Batch, result: dict[str, Any], *, version: int | None, now: datetime) -> list[tuple[Any, ...]]:
    probability, points = result["probability"], result["points"]
    return [
        (
            int(lead_id),
            int(result["effective"][i]),
            result["tier"][i],
            int(result["computed"][i]),
            round(float(probability[i]), 6) if probability is not None else None,
            int(points[i]) if points is not None else None,
            result["factors"][i],
            version,
            now,
        )
        for i, lead_id in enumerate(batch.ids.tolist())
    ]


def persist_json(rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL, the default: one ``UPDATE … FROM jsonb_to_recordset(%s)`` for the batch.

    Same plan as the ``VALUES`` form, but the batch travels as one JSON parameter that the
    server parses in C, instead of nine parameters per lead that the driver adapts one by
    one: about half the time for 5,000 leads.
    """
    if not rows:
        return
    payload = json.dumps(
        [{"id": r[0], "s": r[1], "t": r[2], "c": r[3], "p": r[4], "r": r[5], "f": r[6], "v": r[7]} for r in rows],
        separators=(",", ":"),
    )
    sql = (
        "UPDATE leads_lead AS l SET score = v.s, tier = v.t, computed_score = v.c, model_probability = v.p, "
        "rules_points = v.r, score_factors = v.f, model_version = v.v, scored_at = %s "
        "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, s smallint, t varchar, c smallint, p double precision, "
        "r integer, f jsonb, v integer) WHERE l.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows[0][8], payload])


def persist_executemany(rows: list[tuple[Any, ...]]) -> None:
    """Any database: one prepared ``UPDATE … WHERE id = %s`` executed for every row of the batch."""
    if not rows:
        return
    # Every name is a concrete column of the lead (get_field also finds relations and generic keys).
    fields = [cast("Field[Any, Any]", Lead._meta.get_field(name)) for name in PERSISTED_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    sql = f"UPDATE {connection.ops.quote_name(Lead._meta.db_table)} SET {assignments} WHERE id = %s"
    params = [
        [f.get_db_prep_save(value, connection) for f, value in zip(fields, row[1:], strict=True)] + [row[0]]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


PERSIST: dict[str, Callable[[list[tuple[Any, ...]]], None]] = {
    "json": persist_json,
    "executemany": persist_executemany,
}


def persist_method(method: str = "auto") -> str:
    if method == "auto":
        return "json" if connection.vendor == "postgresql" else "executemany"
    if method not in PERSIST:
        raise ValueError(f"Unknown persistence method {method!r}; use one of {', '.join(PERSIST)} or 'auto'.")
    if method == "json" and connection.vendor != "postgresql":
        raise ValueError(f"The {method!r} method is PostgreSQL only.")
    return method


def _history(batch: feats.Batch, result: dict[str, Any]) -> list[tuple[int, int, str]]:
    """``(lead_id, score, tier)`` for computed scores that moved (overridden leads keep theirs)."""
    out = []
    ids = batch.ids.tolist()
    effective, tiers = result["effective"].tolist(), result["tier"]
    for i, (old_score, old_tier) in enumerate(batch.previous):
        if batch.override[i] is None and (old_score != effective[i] or old_tier != tiers[i]):
            out.append((ids[i], effective[i], tiers[i]))
    return out


def insert_history(entries: list[tuple[int, int, str]], *, version: int | None, now: datetime) -> None:
    """Append computed-score history rows: one ``INSERT … SELECT FROM jsonb_to_recordset`` on PostgreSQL."""
    if not entries:
        return
    if connection.vendor != "postgresql":
        LeadScoreHistory.objects.bulk_create(
            [
                LeadScoreHistory(lead_id=i, score=s, tier=t, model_version=version, created_at=now)
                for i, s, t in entries
            ],
            batch_size=2000,
        )
        return
    payload = json.dumps([{"l": i, "s": s, "t": t} for i, s, t in entries], separators=(",", ":"))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_leadscorehistory (lead_id, score, tier, model_version, source, reason, created_at) "
            "SELECT v.l, v.s, v.t, %s, 'computed', '', %s FROM jsonb_to_recordset(%s::jsonb) AS v(l bigint, s "
            "smallint, t varchar)",
            [version, now, payload],
        )


@dataclass(frozen=True)
class RescoreResult:
    scored: int
    changed: int
    model_version: int | None
    seconds: float
    phases: dict[str, float] | None = None  # load, compute, persist: seconds spent in each


def _id_batches(ids: Iterable[int], size: int) -> Iterable[list[int]]:
    chunk: list[int] = []
    for lead_id in ids:
        chunk.append(lead_id)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def leads_rescore(
    *,
    ids: Iterable[int] | None = None,
    dirty: bool = False,
    now: datetime | None = None,
    method: str | Callable[[list[tuple[Any, ...]]], None] = "auto",
    history: bool = True,
    batch_size: int | None = None,
) -> RescoreResult:
    """Recompute and store the scores of ``ids`` (all leads when None; only changed ones with ``dirty``).

    Each batch commits on its own, with its score history, and clears the ``score_dirty_at``
    marks it has covered (a mark set while the batch ran survives for the next run).
    ``method`` names how a batch is written (``auto``, ``json``, ``executemany``) or is a function
    that writes the rows itself (the benchmark compares other strategies that way).
    """
    import time

    started = time.perf_counter()
    now = now or timezone.now()
    scorer = Scorer.current()
    if not scorer.can_score:
        return RescoreResult(0, 0, None, 0.0)
    version = scorer.model.version if scorer.model else None
    persist = method if callable(method) else PERSIST[persist_method(method)]
    if ids is None:
        qs = Lead.objects.order_by("id")
        if dirty:
            qs = qs.filter(score_dirty_at__isnull=False, score_dirty_at__lte=now)
        ids = qs.values_list("id", flat=True).iterator(chunk_size=10_000)
    scored = changed = 0
    phases = {"load": 0.0, "compute": 0.0, "persist": 0.0}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now_ = time.perf_counter()
        phases[phase] += now_ - clock
        clock = now_

    def write(batch: feats.Batch, result: dict[str, Any], rows: list[tuple[Any, ...]]) -> int:
        with transaction.atomic():
            persist(rows)
            entries = _history(batch, result) if history else []
            insert_history(entries, version=version, now=now)
            Lead.objects.filter(feats._ids_filter(batch.ids.tolist()), score_dirty_at__lte=now).update(
                score_dirty_at=None
            )
        return len(entries)

    writer = _Writer() if _can_overlap() else None
    try:
        for chunk in _id_batches(ids, batch_size or app_settings.SCORE_BATCH_SIZE):
            lap("load")  # includes fetching the next ids
            batch = scorer.load(chunk, now=now)
            lap("load")
            if not len(batch):
                continue
            result = scorer.compute(batch)
            rows = _rows(batch, result, version=version, now=now)
            lap("compute")
            if writer is None:
                changed += write(batch, result, rows)
            else:
                changed += writer.submit(write, batch, result, rows)  # waits for the previous batch only
            scored += len(batch)
            lap("persist")
        if writer is not None:
            changed += writer.drain()
            lap("persist")
    finally:
        if writer is not None:
            writer.close()
    return RescoreResult(
        scored, changed, version, round(time.perf_counter() - started, 3), {k: round(v, 3) for k, v in phases.items()}
    )


def _can_overlap() -> bool:
    """Write on a second connection while the next batch is computed: PostgreSQL, outside a transaction
    (inside one, the caller expects every write in it — and tests run inside one)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


class _Writer:
    """One background thread that persists batch k while the caller computes batch k + 1.

    At most one batch is in flight, so memory stays bounded and batches commit in order; an
    error in a write is raised in the caller at the next submit (or at drain).
    """

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leads-rescore-writer")
        self.pending: Future[int] | None = None

    def submit(self, fn: Callable[..., int], *args: Any) -> int:
        done = self.drain()
        self.pending = self.pool.submit(fn, *args)
        return done

    def drain(self) -> int:
        done, self.pending = (self.pending.result() if self.pending is not None else 0), None
        return done

    def close(self) -> None:
        from django.db import connections

        try:
            self.drain()
        finally:
            self.pool.submit(connections.close_all).result()  # the writer thread's own connection
            self.pool.shutdown()


# --- debounced recompute ------------------------------------------------------------------------


def leads_mark_dirty(*, ids: Iterable[int], now: datetime | None = None) -> int:
    """Mark leads as changed and make sure one rescore runs after the burst settles."""
    ids = list(ids)
    if not ids:
        return 0
    count = Lead.objects.filter(pk__in=ids).update(score_dirty_at=now or timezone.now())
    rescore_schedule()
    return count


def rescore_schedule() -> None:
    """Enqueue the debounced rescore (after commit) unless one is already waiting.

    The cache key lives until the task starts (it deletes it first), so every change made
    while a task waits is picked up by that task, and a change made after it started
    schedules the next one. A rolled-back change schedules nothing.
    """
    from leads.tasks import lead_rescore_dirty_task

    debounce = app_settings.RESCORE_DEBOUNCE_SECONDS

    def enqueue() -> None:
        if cache.add(RESCORE_SCHEDULED_KEY, 1, timeout=max(60, debounce * 6)):
            lead_rescore_dirty_task.apply_async(countdown=debounce)

    transaction.on_commit(enqueue)

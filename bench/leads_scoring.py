"""Benchmark: score and persist 100,000 leads on PostgreSQL (target: ≤ 10 s).

    .venv/bin/python bench/leads_scoring.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_leads .venv/bin/python bench/leads_scoring.py \
        [--leads 100000] [--repeat 3] [--reseed]

Takes about 5 minutes on two cores (most of it the single bulk_update run).

Creates the database if it is missing (default ``hitl_bench_leads``), migrates it and, once,
loads the leads (5% of them won or lost), ~3 engagement events each over 90 days, the demo's
kind of rules (fields, an attribute, engagement in a window matching event data) and trains a
model on the closed leads (13 features: 5 fields, 8 engagement figures). Then, for the same
100,000 leads in the same run, it times:

- a plain ``UPDATE leads_lead … FROM (VALUES …)`` writing precomputed rows, batch by batch
  (the floor: what persisting alone costs);
- ``leads_rescore``: load each batch, aggregate its events, model + factors + rules in numpy,
  blend, and persist with ``UPDATE … FROM jsonb_to_recordset(…)`` — the production path on
  PostgreSQL;
- the same with ``UPDATE … FROM (VALUES …)``, ``executemany`` and Django's ``bulk_update`` as
  the persistence step (the last two once: they are slow);
- a cold run that also writes score history for every lead (all scores reset first);

and prints seconds, leads per second and the ratio to the plain UPDATE.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hitl_bench_leads")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-leads-3c5e7a9b1d2f4a6c")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "text")

SOURCES = [
    ("Referral", 1.2),
    ("Partner", 0.7),
    ("Trade show", 0.3),
    ("Web form", 0.0),
    ("Paid search", -0.4),
    ("Cold outreach", -1.0),
]
INDUSTRIES = ["Hospitality", "Education", "Tourism", "Retail", "Construction", "Healthcare", "Research"]
COUNTRIES = ["US", "CA", "GB", "DE", "NL", "SE", "AU", "IE", "FR", "IN"]
BASELINE = "plain UPDATE … FROM (VALUES …), same rows"


# --- write strategies compared with the production one (not used by the product) ------------

_PG_TYPES = {
    "id": "bigint",
    "score": "smallint",
    "tier": "varchar",
    "computed_score": "smallint",
    "model_probability": "double precision",
    "rules_points": "integer",
    "score_factors": "jsonb",
    "model_version": "integer",
    "scored_at": "timestamptz",
}


def persist_values(rows: list[tuple]) -> None:
    """PostgreSQL: one ``UPDATE leads_lead … FROM (VALUES …)`` for the whole batch."""
    import json

    from django.db import connection

    from leads.scoring import PERSISTED_FIELDS

    if not rows:
        return
    names = ["id", *PERSISTED_FIELDS]
    casts = "(" + ", ".join(f"%s::{_PG_TYPES[n]}" for n in names) + ")"
    values_sql = ", ".join([casts] * len(rows))
    assignments = ", ".join(f"{n} = v.{n}" for n in PERSISTED_FIELDS)
    columns = ", ".join(names)
    sql = f"UPDATE leads_lead AS l SET {assignments} FROM (VALUES {values_sql}) AS v({columns}) WHERE l.id = v.id"
    params: list = []
    for row in rows:
        params.extend(row[:6])
        params.append(json.dumps(row[6]))
        params.extend(row[7:])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def persist_bulk_update(rows: list[tuple]) -> None:
    """Django's ``bulk_update`` (a ``CASE WHEN`` per column)."""
    from leads.models import Lead
    from leads.scoring import PERSISTED_FIELDS

    objs = [Lead(id=row[0], **dict(zip(PERSISTED_FIELDS, row[1:], strict=True))) for row in rows]
    Lead.objects.bulk_update(objs, list(PERSISTED_FIELDS), batch_size=1000)


def ensure_database() -> str:
    url = os.environ["DATABASE_URL"]
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://…/hitl_bench_leads (this benchmark is for PostgreSQL).")
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    return name


def seed(n: int, *, reseed: bool) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from leads.demo import RULES as DEMO_RULES
    from leads.models import Lead, LeadScoreHistory, ScoringModel, ScoringRule
    from leads.services import scoring_model_train

    have = Lead.objects.filter(external_id__startswith="bench-").count()
    if have == n and not reseed and ScoringModel.objects.filter(active=True).exists():
        return
    print(f"seeding {n:,} leads …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE leads_leadevent, leads_leadscorehistory, leads_lead, leads_scoringmodel, "
            "leads_scoringrule RESTART IDENTITY CASCADE"
        )
    rng = random.Random(2026)
    now = timezone.now()
    batch: list[Lead] = []
    for i in range(n):
        source, _ = rng.choice(SOURCES)
        closed = rng.random() < 0.05
        batch.append(
            Lead(
                external_id=f"bench-{i}",
                email=f"bench{i}@prospect.example",
                first_name="Bench",
                last_name=str(i),
                company=f"Company {i % 9000}",
                employees=int(rng.lognormvariate(4, 1.3)),
                industry=rng.choice(INDUSTRIES),
                country=rng.choice(COUNTRIES),
                source=source,
                estimated_value=rng.randint(500, 50_000),
                attributes={"Budget confirmed": rng.choice(["yes", "no"]), "Product interest": rng.choice(["A", "B"])},
                status=rng.choice(["won", "lost"]) if closed else rng.choice(["new", "working", "qualified"]),
                closed_at=now if closed else None,
                created_at=now,
            )
        )
        if len(batch) == 5000:
            Lead.objects.bulk_create(batch)
            batch = []
    Lead.objects.bulk_create(batch)
    with transaction.atomic(), connection.cursor() as cursor:
        # ~3 engagement events per lead over 90 days; pricing-page visits for about a third
        cursor.execute("""
            INSERT INTO leads_leadevent (lead_id, kind, occurred_at, amount, data, source, external_id, created_at)
            SELECT l.id,
                   (ARRAY['email_opened','email_clicked','site_visit','site_visit','form','meeting'])
                       [1 + floor(random() * 6)::int],
                   now() - random() * interval '90 days', NULL,
                   CASE WHEN random() < 0.35 THEN '{"page": "/pricing"}'::jsonb ELSE '{"page": "/blog"}'::jsonb END,
                   'bench', '', now()
            FROM leads_lead l CROSS JOIN LATERAL generate_series(1, (l.id % 7)::int) AS s
        """)
        cursor.execute("""
            INSERT INTO leads_leadevent (lead_id, kind, occurred_at, amount, data, source, external_id, created_at)
            SELECT id, 'purchase', now() - interval '120 days', 250 + (id % 40) * 25, '{}'::jsonb, 'bench', '', now()
            FROM leads_lead WHERE id % 11 = 0
        """)
        # outcomes that follow source and engagement, so the model learns something
        cursor.execute("""
            UPDATE leads_lead l SET status = CASE WHEN random() < 1 / (1 + exp(-(
                CASE l.source WHEN 'Referral' THEN 1.2 WHEN 'Partner' THEN 0.7 WHEN 'Trade show' THEN 0.3
                              WHEN 'Paid search' THEN -0.4 WHEN 'Cold outreach' THEN -1.0 ELSE 0 END
                + 0.4 * (l.id % 7) - 1.2))) THEN 'won' ELSE 'lost' END
            WHERE l.closed_at IS NOT NULL
        """)
        cursor.execute("UPDATE leads_lead SET last_engaged_at = now() WHERE id % 7 > 0")
    # the demo's own rules (the ones a small business would write), plus a penalty for cold outreach
    cold = {"name": "Cold outreach", "target": "field", "path": "source", "operator": "eq", "value": "Cold outreach"}
    for spec in [*DEMO_RULES, {**cold, "points": -10}]:
        ScoringRule.objects.create(**spec)
    model = scoring_model_train(activate=False, note="bench")
    ScoringModel.objects.filter(pk=model.pk).update(active=True)
    LeadScoreHistory.objects.all().delete()
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute("VACUUM ANALYZE leads_lead")
        cursor.execute("VACUUM ANALYZE leads_leadevent")
    print(
        f"seeded in {time.perf_counter() - started:.1f} s; model v{model.version} hold-out ROC AUC "
        f"{model.metrics['roc_auc']} on {model.metrics['n_train']:,} closed leads",
        flush=True,
    )


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per step (the median is shown).")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    name = ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from leads.conf import app_settings
    from leads.models import Lead, LeadEvent, LeadScoreHistory
    from leads.scoring import Scorer, _id_batches, _rows, leads_rescore

    call_command("migrate", verbosity=0)
    seed(args.leads, reseed=args.reseed)
    n = Lead.objects.count()
    events = LeadEvent.objects.count()
    scorer = Scorer.current()
    batch_size = app_settings.SCORE_BATCH_SIZE
    ids = list(Lead.objects.order_by("id").values_list("id", flat=True))
    now = timezone.now()

    # the rows the scorer writes, computed once, for the plain UPDATE baseline
    rows: list[list[tuple]] = []
    compute_s = time.perf_counter()
    for chunk in _id_batches(ids, batch_size):
        batch = scorer.load(chunk, now=now)
        rows.append(_rows(batch, scorer.compute(batch), version=scorer.model.version, now=now))
    compute_s = time.perf_counter() - compute_s

    def plain_update() -> None:
        for chunk in rows:
            with transaction.atomic():
                persist_values(chunk)

    results: dict[str, list[float]] = {}

    def vacuum() -> None:
        # each full rewrite leaves 100,000 dead rows; clean up between runs (untimed) so that
        # every step starts from the same table
        with connection.cursor() as cursor:
            cursor.execute("VACUUM leads_lead")

    def record(label: str, fn, repeat: int) -> None:
        for _ in range(repeat):
            vacuum()
            results.setdefault(label, []).append(timed(fn))

    record(BASELINE, plain_update, args.repeat)
    record(
        "score + persist: UPDATE … FROM jsonb_to_recordset (default)",
        lambda: leads_rescore(method="json", history=False),
        args.repeat,
    )
    record(
        "score + persist: UPDATE … FROM (VALUES …)",
        lambda: leads_rescore(method=persist_values, history=False),
        args.repeat,
    )
    record("score + persist: executemany", lambda: leads_rescore(method="executemany", history=False), 1)
    record("score + persist: bulk_update", lambda: leads_rescore(method=persist_bulk_update, history=False), 1)

    def cold() -> None:
        Lead.objects.update(score=None, tier="")
        LeadScoreHistory.objects.all().delete()
        vacuum()
        started = time.perf_counter()
        leads_rescore(history=True)
        results.setdefault("cold: score + persist + history for every lead", []).append(time.perf_counter() - started)

    cold()
    history_rows = LeadScoreHistory.objects.count()

    base = statistics.median(results[BASELINE])
    print()
    print(
        f"database {name} ({connection.vendor}), {n:,} leads, {events:,} events, model v{scorer.model.version} "
        f"({len(scorer.features)} features, {len(scorer.model.params['coef'])} columns), {len(scorer.rules)} rules, "
        f"batches of {batch_size:,}"
    )
    print(f"{'step':<62}{'runs':>5}{'median s':>10}{'leads/s':>10}{'× plain UPDATE':>16}")
    for label, runs in results.items():
        median = statistics.median(runs)
        print(f"{label:<62}{len(runs):>5}{median:>10.2f}{n / median:>10,.0f}{median / base:>16.2f}")
    label = "(of which load + aggregate events + numpy, no writes)"
    print(f"{label:<62}{1:>5}{compute_s:>10.2f}{n / compute_s:>10,.0f}")
    print(f"history rows written by the cold run: {history_rows:,}")
    target = statistics.median(results["score + persist: UPDATE … FROM jsonb_to_recordset (default)"])
    print(f"target ≤ 10 s for {n:,} leads: {'met' if target <= 10 else 'MISSED'} ({target:.2f} s)")


if __name__ == "__main__":
    main()

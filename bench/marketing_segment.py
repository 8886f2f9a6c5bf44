"""Benchmark: live segment counts over 100,000 contacts on PostgreSQL (target: ≤ 200 ms).

    .venv/bin/python bench/marketing_segment.py            # load once, then time
    .venv/bin/python bench/marketing_segment.py --reseed   # rebuild the data first

Uses the database ``hitl_bench_marketing`` (also used by bench/marketing_send.py, which
recreates it; this script reloads its data when it is not there). Loads 1,000 accounts,
100,000 contacts with custom attributes (3/4 with consent, 3,000 suppressed), 300,000
timeline entries over a year and a churn and a propensity score per contact, then times
``segment_counts`` — the matching and the reachable count of a segment in one SQL query, as
the builder's live count runs it — for typical segments, and the segment list's single
aggregate over all of them. Prints median and p95 milliseconds per segment.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hitl_bench_marketing"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "bench.marketing_settings",
        "SECRET_KEY": "bench-only-secret-key-marketing-4e2a9c7d1b3f5a8e",
        "HTTPS": "false",
        "DATABASE_URL": DATABASE_URL,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }
)
CONTACTS = 100_000
ACCOUNTS = 1_000
ACTIVITIES = 300_000
MARKER = "segment-bench"
SEGMENTS = [
    ("VIP and premium accounts", [{"field": "account.tier", "op": "in", "value": ["vip", "premium"]}]),
    (
        "Pro plan spending 100+",
        [
            {"field": "attributes.plan", "op": "eq", "value": "pro"},
            {"field": "attributes.monthly_spend", "op": "gte", "value": 100},
        ],
    ),
    ("Churn risk 0.6+", [{"field": "score.churn", "op": "gte", "value": 0.6}]),
    ("Bought in 90 days", [{"field": "activity.purchase", "op": "gte", "value": 1, "days": 90}]),
    ("3+ purchases in 90 days", [{"field": "activity.purchase", "op": "gte", "value": 3, "days": 90}]),
    (
        "Win-back: premium, at risk, no purchase in 60 days, quiet 30 days",
        [
            {"field": "account.tier", "op": "in", "value": ["vip", "premium"]},
            {"field": "score.churn", "op": "gte", "value": 0.5},
            {"field": "activity.purchase", "op": "eq", "value": 0, "days": 60},
            {"field": "contact.last_activity_days", "op": "gte", "value": 30},
        ],
    ),
    ("Everyone", []),
]


def ensure_database(reseed: bool) -> None:
    import psycopg

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if reseed:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def load() -> None:
    from django.db import connection
    from django.utils import timezone

    from hitl_crm.contacts.models import Account, Activity, Contact
    from marketing.models import ContactScore, Suppression

    rng = random.Random(20260101)
    now = timezone.now()
    started = time.perf_counter()
    industries = [
        "Retail",
        "Tourism",
        "Education",
        "Health",
        "Logistics",
        "Media",
        "Sports",
        "Public",
        "Construction",
        "Research",
        "Hospitality",
        "Non-profit",
    ]
    accounts = Account.objects.bulk_create(
        [
            Account(
                name=f"Company {i}",
                domain=f"company{i}.{MARKER}.example",
                industry=rng.choice(industries),
                employees=rng.randint(2, 5000),
                country=rng.choice(["US", "GB", "DE", "FR", "NL", "SE", "NO", "CA", "AU", "CH"]),
                tier=rng.choices(["standard", "premium", "vip"], weights=(70, 20, 10))[0],
            )
            for i in range(ACCOUNTS)
        ]
    )
    contacts = []
    for i in range(CONTACTS):
        plan = rng.choices(["basic", "plus", "pro"], weights=(5, 3, 2))[0]
        consent = rng.random() < 0.75
        contacts.append(
            Contact(
                account=rng.choice(accounts),
                first_name=f"P{i}",
                last_name="Bench",
                email=f"p{i}@{MARKER}.example",
                email_consent=consent,
                consent_at=now if consent else None,
                attributes={
                    "plan": plan,
                    "monthly_spend": round(rng.uniform(10, 250), 2),
                    "tenure_months": rng.randint(1, 96),
                    "support_cases": rng.randint(0, 6),
                },
                last_activity_at=now - timedelta(days=rng.uniform(0, 400)),
                created_at=now - timedelta(days=rng.uniform(30, 900)),
            )
        )
    contacts = Contact.objects.bulk_create(contacts, batch_size=5000)
    ids = [c.pk for c in contacts]
    kinds = ["purchase", "email_in", "email_out", "call", "site_visit", "form", "case", "meeting", "note"]
    weights = [25, 15, 20, 10, 15, 5, 5, 3, 2]
    for start in range(0, ACTIVITIES, 20_000):
        Activity.objects.bulk_create(
            [
                Activity(
                    contact_id=rng.choice(ids),
                    kind=rng.choices(kinds, weights=weights)[0],
                    summary="bench",
                    source="bench",
                    occurred_at=now - timedelta(days=rng.expovariate(1 / 90)),
                )
                for _ in range(min(20_000, ACTIVITIES - start))
            ],
            batch_size=5000,
        )
    scores = [
        ContactScore(contact_id=pk, kind=kind, value=round(rng.betavariate(2, 5), 4), model_version=1)
        for pk in ids
        for kind in ("churn", "propensity")
    ]
    ContactScore.objects.bulk_create(scores, batch_size=10_000)
    Suppression.objects.bulk_create(
        [Suppression(email=f"p{pk}@{MARKER}.example", reason="bounced") for pk in rng.sample(range(CONTACTS), 3000)]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"loaded {CONTACTS:,} contacts, {ACTIVITIES:,} activities, {len(scores):,} scores "
        f"in {time.perf_counter() - started:.0f} s"
    )


def timed(fn, runs: int) -> tuple[float, float, object]:
    for _ in range(3):
        value = fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        value = fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    ensure_database(args.reseed)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Q

    from hitl_crm.contacts.models import Contact

    call_command("migrate", verbosity=0)
    if not Contact.objects.filter(email__endswith=f"@{MARKER}.example").exists():
        from django.db import connection

        with connection.cursor() as cursor:  # a leftover campaign benchmark: start clean
            cursor.execute("TRUNCATE contacts_contact, contacts_account, contacts_activity CASCADE")
        load()
    from django.contrib.auth import get_user_model

    from marketing.models import Segment
    from marketing.segments import normalise_rules
    from marketing.selectors import segment_counts, segments_with_counts

    user = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create(
        username="bench-admin", is_superuser=True, is_staff=True
    )
    print(
        f"\nsegment counts over {Contact.objects.filter(~Q(email='')).count():,} contacts "
        f"(PostgreSQL, {args.runs} runs each, after 3 warm-ups)"
    )
    print(f"  {'segment':<66}{'matching':>10}{'reachable':>11}{'median ms':>11}{'p95 ms':>9}")
    worst = 0.0
    for name, rules in SEGMENTS:
        clean = normalise_rules(rules)
        median, p95, counts = timed(lambda clean=clean: segment_counts(rules=clean), args.runs)
        worst = max(worst, p95)
        print(f"  {name:<66}{counts['matching']:>10,}{counts['reachable']:>11,}{median:>11.1f}{p95:>9.1f}")
    segments = [
        Segment.objects.update_or_create(name=f"[bench] {name}", defaults={"rules": normalise_rules(rules)})[0]
        for name, rules in SEGMENTS
    ]
    median, p95, _ = timed(lambda: segments_with_counts(user=user, segments=segments), max(5, args.runs // 3))
    print(f"  {'all 7 in one aggregate (the segment list page)':<66}{'':>21}{median:>11.1f}{p95:>9.1f}")
    print(f"  slowest single-segment p95: {worst:.1f} ms (target ≤ 200 ms: {'met' if worst <= 200 else 'MISSED'})")


if __name__ == "__main__":
    main()

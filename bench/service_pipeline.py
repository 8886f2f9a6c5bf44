"""Benchmark: an inbound email → an AI draft in the review queue, through Redis and a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_service .venv/bin/python bench/service_pipeline.py

Creates and migrates the PostgreSQL database if needed, installs the knowledge base and the
routing policies, starts one real worker (``celery -A hitl_crm worker -Q ai,default,dispatch``,
the offline AI backend) against it and a Redis broker (``redis://127.0.0.1:6379/13`` unless
``--broker`` says otherwise), then, one message at a time, stores an inbound email (which
publishes the pipeline task when it commits) and waits until its reply draft is a pending
approval request. Prints p50/p95/max of that latency, the share spent in the AI engine, and
the throughput of a burst of messages published at once.
Options: ``--messages N`` (default 100), ``--burst N`` (default 30).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-service-pipeline-2b7d9f1e")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "text")
os.environ.setdefault("HITL_CRM_APPROVALS_NOTIFY_REVIEWERS", "false")

QUESTIONS = [
    (
        "Where is my order?",
        "Hi, I ordered two rain shells last week (order NW-{n}) and the tracking page has not "
        "changed for four days. Where is my order?",
    ),
    (
        "Which jacket size?",
        "Hello, I'm usually a medium but I mostly wear the insulated jacket over a t-shirt. "
        "Should I take a small or a medium?",
    ),
    (
        "Tent arrived damaged",
        "Hi, the tent from order NW-{n} arrived with a torn fly and a bent pole. What should I do?",
    ),
    (
        "Cancel my order please",
        "Please cancel my order NW-{n}, I ordered the wrong colour by mistake. It was placed 20 minutes ago.",
    ),
    (
        "Refund for a headlamp",
        "I bought a headlamp on order NW-{n} three days ago and it's unused. I'd like my $35 back, please.",
    ),
    ("Password reset", "I asked for a password reset three times and the email never arrives. I can't log in."),
]


def ensure_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://…/hitl_bench_service (this benchmark is for PostgreSQL).")
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def drain(process) -> None:
    """Read the worker's output so a full pipe never blocks it."""
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    from approvals.models import ApprovalRequest
    from hitl_crm.accounts.roles import roles_ensure
    from hitl_crm.ai.models import AiRun
    from service.demo import ARTICLES
    from service.inbound import build
    from service.models import Case, KnowledgeArticle
    from service.routing import SEND_REPLY, service_policies_ensure
    from service.services import inbound_message_receive, knowledge_article_seed
    from tests.celery_worker import celery_worker, tasks_through_broker

    call_command("migrate", verbosity=0)
    roles_ensure()
    service_policies_ensure()
    for article in ARTICLES:
        if not KnowledgeArticle.objects.filter(title=article["title"]).exists():
            knowledge_article_seed(published=True, **article)
    case_type = ContentType.objects.get_for_model(Case)
    run_id = time.strftime("%Y%m%d%H%M%S")

    def deliver(i: int):
        subject, body = QUESTIONS[i % len(QUESTIONS)]
        mail = build(
            sender=f"Bench Customer {i} <bench-{run_id}-{i}@pipeline-bench.example>",
            subject=subject,
            body=body.format(n=30_000 + i),
            message_id=f"<bench-{run_id}-{i}@pipeline-bench.example>",
        )
        return inbound_message_receive(mail=mail, source="bench")

    def drafted(case_id: int) -> bool:
        return ApprovalRequest.objects.filter(
            action=SEND_REPLY, content_type=case_type, object_id=str(case_id)
        ).exists()

    latencies: list[float] = []
    stored: list[float] = []
    ai_ms: list[float] = []
    with (
        tempfile.TemporaryDirectory() as mail_dir,
        celery_worker(
            broker_url=args.broker,
            extra_env={
                "EMAIL_FILE_PATH": mail_dir,
                "LOG_LEVEL": "WARNING",
                "HTTPS": "false",
                "HITL_CRM_APPROVALS_NOTIFY_REVIEWERS": "false",
            },
        ) as worker,
        tasks_through_broker(args.broker),
    ):
        drain(worker)
        for i in range(-5, args.messages):  # five warm-up messages, not counted
            t0 = time.perf_counter()
            result = deliver(i + 5_000 if i < 0 else i)
            t_stored = time.perf_counter()
            deadline = t0 + 30
            while not drafted(result.case.pk):
                if time.perf_counter() > deadline:
                    sys.exit(f"message {i}: no draft after 30 s — is the worker running? (see its log)")
                time.sleep(0.002)
            done = time.perf_counter()
            if i >= 0:
                latencies.append((done - t0) * 1000)
                stored.append((t_stored - t0) * 1000)
                ai = AiRun.objects.filter(subject_type=case_type, subject_id=str(result.case.pk)).aggregate(
                    ms=Sum("latency_ms")
                )["ms"]
                ai_ms.append(ai or 0.0)

        # a burst: everything published at once, one worker process draining the ai queue
        t0 = time.perf_counter()
        cases = [deliver(100_000 + i).case.pk for i in range(args.burst)]
        while not all(drafted(pk) for pk in cases):
            if time.perf_counter() - t0 > 120:
                sys.exit("burst: drafts did not all arrive within 120 s")
            time.sleep(0.01)
        burst_s = time.perf_counter() - t0

    print(
        f"\nInbound email → draft pending in the review queue, {args.messages} messages one at a time, "
        f"real Redis broker + 1 Celery worker (prefork, 1 process), offline AI backend, "
        f"PostgreSQL {connection.pg_version // 10000}; times in ms\n"
    )
    print(f"{'':34} {'p50':>8} {'p95':>8} {'max':>8} {'mean':>8}")
    for label, values in (
        ("end to end (store → draft queued)", latencies),
        ("  storing the inbound message", stored),
        ("  AI runs (triage+summary+draft)", ai_ms),
    ):
        print(
            f"{label:34} {statistics.median(values):>8.1f} {percentile(values, 95):>8.1f} {max(values):>8.1f} "
            f"{statistics.fmean(values):>8.1f}"
        )
    print(
        f"\nburst of {args.burst} messages published at once: all drafted in {burst_s:.2f} s "
        f"({args.burst / burst_s:.1f} messages/s on one worker process)"
    )
    p95 = percentile(latencies, 95)
    print(f"target p95 ≤ 1 s: {'MET' if p95 <= 1000 else 'NOT MET'} (p95 {p95:.0f} ms)")
    print(
        "\nrun: DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_service "
        ".venv/bin/python bench/service_pipeline.py [--messages N] [--burst N]"
    )


if __name__ == "__main__":
    main()

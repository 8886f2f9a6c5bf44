"""Benchmark: the service desk's case inbox with 50,000 cases on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_service .venv/bin/python bench/service_inbox.py

Creates the database if it is missing, migrates it, and (once) bulk-loads 50,000 cases over
5,000 contacts at 100 accounts (a tenth VIP), with realistic spreads of status, risk, intent,
sentiment, SLA age and the needs-a-person flag. Then it times, through Django's full request
stack (middleware, session auth) as a support agent, the inbox and its HTMX partials — first
page, a deep page, filters, the needs-a-person view — plus the API list, and prints the query
count per page (it must not depend on the number of cases) with median and p95 server time.
Options: ``--samples N`` (default 40), ``--reseed``, ``--cases N`` (default 50,000; a tenth as many
contacts; the bench cases are reloaded when their number differs). Each page's time is also printed
as a ratio to a bare view that loads the session user (the floor every real page pays).
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
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-service-inbox-8c2e4a6f")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "text")

CASES = 50_000  # --cases
CONTACTS = 5_000  # a tenth of the cases
ACCOUNTS = 100
BATCH = 5_000
INTENTS = [
    "track_order",
    "get_refund",
    "return_item",
    "damaged_item",
    "product_question",
    "change_order",
    "cancel_order",
    "payment_issue",
    "check_invoice",
    "account_access",
    "complaint",
    "other",
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


def seed(*, reseed: bool, cases: int = CASES) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from hitl_crm.contacts.models import Account, Contact, contact_search_expression
    from service.models import Case

    bench = Case.objects.filter(contact__email__endswith="@inbox-bench.example")
    contacts_n = max(100, cases // 10)
    if not reseed and bench.count() == cases:
        return
    rng = random.Random(50_000)
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        bench.delete()
        Contact.objects.filter(email__endswith="@inbox-bench.example").delete()
        Account.objects.filter(domain__endswith=".inbox-bench.example").delete()
        accounts = Account.objects.bulk_create(
            Account(
                name=f"Bench account {i}", domain=f"a{i}.inbox-bench.example", tier="vip" if i % 10 == 0 else "standard"
            )
            for i in range(ACCOUNTS)
        )
        contacts = Contact.objects.bulk_create(
            (
                Contact(
                    first_name=f"First{i}",
                    last_name=f"Last{i}",
                    email=f"c{i}@inbox-bench.example",
                    account=accounts[i % ACCOUNTS],
                )
                for i in range(contacts_n)
            ),
            batch_size=BATCH,
        )
        Contact.objects.filter(email__endswith="@inbox-bench.example").update(search_text=contact_search_expression())
        statuses = ["open"] * 30 + ["pending_customer"] * 15 + ["resolved"] * 40 + ["closed"] * 15
        risks = ["low"] * 70 + ["medium"] * 20 + ["high"] * 8 + ["critical"] * 2
        rows = []
        for i in range(cases):
            status, risk = rng.choice(statuses), rng.choice(risks)
            last = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            rows.append(
                Case(
                    contact=contacts[i % contacts_n],
                    subject=f"Case {i}: a question about order NW-{10_000 + i}",
                    thread_key=f"case {i}",
                    status=status,
                    risk=risk,
                    intent=rng.choice(INTENTS),
                    intent_confidence=round(rng.random(), 3),
                    sentiment=round(rng.uniform(-1, 1), 3),
                    needs_human=status in ("open", "pending_customer") and rng.random() < 0.15,
                    needs_human_reason="No knowledge article answers this.",
                    last_message_at=last,
                    waiting_since=last if status == "open" else None,
                    created_at=last - timedelta(hours=2),
                    thread_version=1,
                    summary_version=1,
                )
            )
            if len(rows) == BATCH:
                Case.objects.bulk_create(rows)
                rows = []
        Case.objects.bulk_create(rows)
    with connection.cursor() as cursor:  # as autovacuum would have by now: fresh statistics, visibility map
        cursor.execute("VACUUM ANALYZE service_case")
        cursor.execute("VACUUM ANALYZE contacts_contact")
    print(f"loaded {cases:,} cases in {time.perf_counter() - started:.1f} s")


def bare_with_user(request):
    from django.http import HttpResponse

    return HttpResponse(request.user.get_username())  # loads the session's user, as any real page does


def build_urlconf():
    import types

    from django.urls import path

    from tests.service import urls_for_tests

    module = types.ModuleType("bench_service_urls")
    module.urlpatterns = [path("bench/bare-user/", bare_with_user), *urls_for_tests.urlpatterns]  # type: ignore[attr-defined]
    for name in ("handler400", "handler403", "handler404", "handler500"):
        setattr(module, name, getattr(urls_for_tests, name))
    return module


def deep_cursor(client, pages: int) -> str:
    """The cursor of the inbox's page ``pages`` (its "Next" links followed from the first page)."""
    import re

    cursor = ""
    for _ in range(pages - 1):
        html = client.get("/service/", {"after": cursor} if cursor else {}, HTTP_HX_REQUEST="true").content.decode()
        found = re.search(r"[?&](?:amp;)?after=([A-Za-z0-9_-]+)", html)
        if not found:
            break
        cursor = found.group(1)
    return cursor


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--cases", type=int, default=CASES, help="cases to load (a tenth as many contacts)")
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import clear_url_caches

    from hitl_crm.accounts.roles import SUPPORT_AGENT, roles_ensure
    from service.models import Case
    from tests.factories import UserFactory

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    roles_ensure()
    seed(reseed=args.reseed, cases=args.cases)
    # the site's URLs plus the service desk's (the same URLconf the tests use until the site includes
    # them), and the bare view with the session user
    settings.ROOT_URLCONF = build_urlconf()
    clear_url_caches()

    agent = UserFactory(username="inbox-bench-agent", roles=[SUPPORT_AGENT])
    client = Client()
    client.force_login(agent)
    total = Case.objects.count()
    pages = [
        ("floor: /healthz (SELECT 1)", "/healthz", {}),
        ("floor: bare view + user", "/bench/bare-user/", {}),
        ("inbox, first page", "/service/", {}),
        ("inbox, page 200 (HTMX)", "/service/", {"after": deep_cursor(client, 200), "HTTP_HX_REQUEST": "true"}),
        ("filter risk=high (HTMX)", "/service/", {"risk": "high", "HTTP_HX_REQUEST": "true"}),
        ("filter open + intent", "/service/", {"status": "open", "intent": "get_refund"}),
        ("search 'NW-12345'", "/service/", {"q": "NW-12345"}),
        ("search common word 'order'", "/service/", {"q": "order"}),
        ("search 'order' (HTMX)", "/service/", {"q": "order", "HTTP_HX_REQUEST": "true"}),
        ("search customer 'last42'", "/service/", {"q": "last42"}),
        ("needs a person", "/service/needs-human/", {}),
        ("API cases, first page", "/api/v1/cases/", {}),
    ]
    timings: dict[str, list[float]] = {}
    cpu_ms: dict[str, float] = {}  # Django's own CPU time (no waiting for the database or for a CPU)
    queries: dict[str, int] = {}
    for label, url, params in pages:
        headers = {k: v for k, v in params.items() if k.startswith("HTTP_")}
        query = {k: v for k, v in params.items() if not k.startswith("HTTP_")}
        for _ in range(3):
            assert client.get(url, query, **headers).status_code == 200, label
        with CaptureQueriesContext(connection) as captured:
            client.get(url, query, **headers)
        queries[label] = len(captured)
        values, cpu = [], []
        for _ in range(args.samples):
            t0, c0 = time.perf_counter(), time.process_time()
            client.get(url, query, **headers)
            values.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        timings[label] = values
        cpu_ms[label] = statistics.median(cpu)

    # the same page with 10 fewer cases must cost the same number of queries
    ids = list(Case.objects.order_by("-id").values_list("id", flat=True)[:10])
    with CaptureQueriesContext(connection) as before:
        client.get("/service/")
    Case.objects.filter(id__in=ids).update(status="closed")
    with CaptureQueriesContext(connection) as after:
        client.get("/service/", {"status": "open"})

    print(
        f"\nCase inbox, {total:,} cases, PostgreSQL {connection.pg_version // 10000}, full middleware stack "
        f"(session auth, support agent), {args.samples} requests each, server time in ms\n"
    )
    floor = statistics.median(timings["floor: bare view + user"])
    print(f"{'page':30} {'queries':>7} {'median':>8} {'p95':>8} {'web CPU':>8} {'× bare':>7}")
    for label, values in timings.items():
        print(
            f"{label:30} {queries[label]:>7} {statistics.median(values):>8.2f} {percentile(values, 95):>8.2f} "
            f"{cpu_ms[label]:>8.2f} {statistics.median(values) / floor:>7.1f}"
        )
    print(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    worst = max(percentile(v, 95) for k, v in timings.items() if not k.startswith("floor"))
    constant = len({len(before), len(after), queries["inbox, first page"], queries["needs a person"]}) == 1
    print(
        f"\nquery count constant across pages, filters and data size: {'YES' if constant else 'NO'} "
        f"({len(before)} vs {len(after)})"
    )
    print(f"target p95 ≤ 50 ms: {'MET' if worst <= 50 else 'NOT MET'} (worst p95 {worst:.1f} ms)")
    print(
        "\nrun: DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_service "
        ".venv/bin/python bench/service_inbox.py [--samples N] [--reseed] [--cases N]"
    )


if __name__ == "__main__":
    main()

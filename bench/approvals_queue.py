"""Benchmark: the review queue with 100,000 pending requests on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench .venv/bin/python bench/approvals_queue.py

Creates the database if it is missing, migrates it, and (once) loads 100,000 pending
``approvals.notify_email`` requests on 100,000 contacts plus 20,000 decided ones, 50
reviewers in role and team groups, and the direct-FK object-permission rows that routing
would have written (most requests routed to one or two groups, escalated ones also to
managers, a few to single users). Then it times, through Django's full request stack
(middleware, session auth), for several reviewers:

- a bare Django view returning ``HttpResponse("ok")`` (the floor),
- the API list ``GET /api/v1/approvals/`` (cursor pagination, first and a later page),
- the badge count and the HTML queue page, when the web UI's views are installed, plus page
  40 of the queue (priority and due orders) reached by following its "Next" links, as a
  reviewer would (so the figure is whatever the pager does: OFFSET or a keyset cursor),

and prints median and p95 server time per endpoint, the ratio to the bare view, and the
API list's ratio to the bare view that loads the session user (target ≤ 5×).
Options: ``--samples N`` per reviewer (default 30), ``--reseed`` to rebuild the data.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import statistics
import sys
import time
import types
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-5d1f3e7a9c0b2d4f6a8c")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "text")

PENDING = 100_000
DECIDED = 20_000
REVIEWERS = 50
BATCH = 5_000
DEEP_REVIEWERS = ("bench00", "bench30")  # page 40 is reached by clicking "Next" 39 times: two reviewers
BUDGET_PER_ENDPOINT = 12.0  # seconds of timed requests per endpoint, over all reviewers


def ensure_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://…/hitl_bench (this benchmark is for PostgreSQL).")
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def seed(*, reseed: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from approvals.handlers import NOTIFY_EMAIL
    from approvals.models import (
        ApprovalPolicy,
        ApprovalRequest,
        ApprovalRequestGroupObjectPermission,
        ApprovalRequestUserObjectPermission,
    )
    from approvals.payloads import payload_hash
    from hitl_crm.accounts.roles import MANAGER, SALES_REP, SUPPORT_AGENT, roles_ensure
    from hitl_crm.contacts.models import Account, Contact

    if not reseed and ApprovalRequest.objects.filter(status="pending").count() >= PENDING:
        print("data already loaded (use --reseed to rebuild)")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE approvals_approvalrequest, approvals_approvalrequestgroupobjectpermission, "
            "approvals_approvalrequestuserobjectpermission, approvals_decision, approvals_auditevent, "
            "contacts_activity, contacts_contact, contacts_account RESTART IDENTITY CASCADE"
        )
    roles_ensure()
    rng = random.Random(20261121)
    User = get_user_model()
    teams = {name: Group.objects.get_or_create(name=name)[0] for name in ("Billing team", "VIP desk", "EMEA desk")}
    roles = {name: Group.objects.get(name=name) for name in (SUPPORT_AGENT, MANAGER, SALES_REP)}
    # 50 reviewers: 28 agents (some also on a team), 10 managers, 12 sales reps
    users = []
    for i in range(REVIEWERS):
        user, _ = User.objects.get_or_create(
            username=f"bench{i:02d}", defaults={"email": f"bench{i:02d}@staff.example"}
        )
        user.groups.clear()
        if i < 28:
            user.groups.add(roles[SUPPORT_AGENT])
            if i % 4 == 0:
                user.groups.add(teams["Billing team"])
            if i % 7 == 0:
                user.groups.add(teams["VIP desk"])
            if i % 5 == 1:
                user.groups.add(teams["EMEA desk"])
        elif i < 38:
            user.groups.add(roles[MANAGER])
        else:
            user.groups.add(roles[SALES_REP])
        users.append(user)
    policy, _ = ApprovalPolicy.objects.get_or_create(
        name="Email to a contact (bench)", defaults={"action": NOTIFY_EMAIL}
    )
    permission = Permission.objects.get(codename="review_approvalrequest")
    content_type = ContentType.objects.get_for_model(Contact)
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        [Account(name=f"Bench account {i}", domain=f"bench{i}.example") for i in range(500)]
    )
    total = PENDING + DECIDED
    for start in range(0, total, BATCH):
        with transaction.atomic():
            contacts = Contact.objects.bulk_create(
                [
                    Contact(
                        account=accounts[i % len(accounts)],
                        first_name=f"First{i}",
                        last_name=f"Last{i}",
                        email=f"person{i}@customer.example",
                    )
                    for i in range(start, min(total, start + BATCH))
                ]
            )
            requests = []
            for contact in contacts:
                payload = {
                    "to": contact.email,
                    "subject": "Your order has shipped",
                    "body": f"Hi {contact.first_name},\nyour order left the warehouse today.",
                }
                created = now - timedelta_minutes(rng.randint(1, 60 * 24 * 10))
                pending = contact.pk <= PENDING
                requests.append(
                    ApprovalRequest(
                        action=NOTIFY_EMAIL,
                        content_type=content_type,
                        object_id=str(contact.pk),
                        proposal=payload,
                        final=payload,
                        payload_hash=payload_hash(payload),
                        subject_version="bench",
                        confidence=round(rng.random(), 3),
                        risk=rng.choice(["low", "low", "low", "medium", "high"]),
                        context={"category": rng.choice(["shipping", "billing", "general"])},
                        status="pending" if pending else rng.choice(["executed", "rejected", "cancelled"]),
                        policy=policy,
                        due_at=created + timedelta_minutes(240),
                        sla_due_at=created + timedelta_minutes(240),
                        escalation_level=1 if pending and rng.random() < 0.1 else 0,
                        created_at=created,
                        decided_at=None if pending else created + timedelta_minutes(30),
                    )
                )
            requests = ApprovalRequest.objects.bulk_create(requests)
            group_rows, user_rows = [], []
            for req in requests:
                draw = rng.random()
                if draw < 0.55:
                    routed = [roles[SUPPORT_AGENT]]
                elif draw < 0.75:
                    routed = [roles[SALES_REP]]
                elif draw < 0.88:
                    routed = [teams["Billing team"], roles[MANAGER]]
                elif draw < 0.95:
                    routed = [teams["EMEA desk"]]
                else:
                    routed = [teams["VIP desk"], roles[MANAGER]]
                if req.escalation_level and roles[MANAGER] not in routed:
                    routed.append(roles[MANAGER])
                group_rows += [
                    ApprovalRequestGroupObjectPermission(content_object=req, group=g, permission=permission)
                    for g in routed
                ]
                if rng.random() < 0.05:
                    user_rows.append(
                        ApprovalRequestUserObjectPermission(
                            content_object=req, user=rng.choice(users), permission=permission
                        )
                    )
            ApprovalRequestGroupObjectPermission.objects.bulk_create(group_rows)
            ApprovalRequestUserObjectPermission.objects.bulk_create(user_rows, ignore_conflicts=True)
        print(f"  loaded {min(total, start + BATCH):>7,} / {total:,} requests", end="\r", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\nloaded {PENDING:,} pending + {DECIDED:,} decided requests in {time.perf_counter() - started:.0f} s")


def timedelta_minutes(minutes: int):
    from datetime import timedelta

    return timedelta(minutes=minutes)


def bare(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def bare_with_user(request):
    from django.http import HttpResponse

    return HttpResponse(request.user.get_username())  # loads the session's user, as any real page does


def build_urlconf() -> types.ModuleType:
    from django.urls import include, path

    module = types.ModuleType("bench_urls")
    module.urlpatterns = [
        path("bench/bare/", bare),
        path("bench/bare-user/", bare_with_user),
        path("bench/api/v1/", include("approvals.api.urls")),
        path("", include("hitl_crm.urls")),  # the real site, with the web UI when installed
    ]
    return module


NEXT_LINK = re.compile(r'<a class="btn" href="([^"]*)"[^>]*>Next')


def follow_next(client, url: str, pages: int) -> str:
    """The URL of the queue page ``pages`` clicks on "Next" after ``url`` (links are relative: ``?…``)."""
    base = url.split("?", 1)[0]
    for _ in range(pages):
        match = NEXT_LINK.search(client.get(url).content.decode())
        if match is None:
            break
        url = base + html.unescape(match.group(1))
        if "page=2" in url:  # a numbered pager (OFFSET): jump there, it is the same page
            return url.replace("page=2", f"page={pages + 1}")
    return url


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30, help="timed requests per reviewer and endpoint")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, clear_url_caches, reverse

    from approvals.selectors import approval_pending_count, approval_queue_for

    # serve static names without a collectstatic manifest (the pages reference static files)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    seed(reseed=args.reseed)

    settings.ROOT_URLCONF = build_urlconf()
    clear_url_caches()
    User = get_user_model()
    # reviewers with different shapes of access: agent (+teams), manager, sales rep
    reviewers = [User.objects.get(username=name) for name in ("bench00", "bench01", "bench05", "bench30", "bench45")]
    endpoints: list[tuple[str, str | None]] = [
        ("bare Django view", "/bench/bare/"),
        ("bare view + session user", "/bench/bare-user/"),
        ("API list, first page", "/bench/api/v1/approvals/"),
        ("API list, later page", "later"),
    ]
    for label, name in (("HTML queue page", "approvals:queue"), ("nav badge", "approvals:badge")):
        try:
            endpoints.append((label, reverse(name)))
        except NoReverseMatch:
            print(f"note: {name} is not installed; {label} not timed")
    deep: dict[str, str] = {}  # label -> the queue URL it starts from; page 40 is reached through "Next"
    if any(label == "HTML queue page" for label, _ in endpoints):
        queue_url = reverse("approvals:queue")
        deep = {"queue page 40, priority": queue_url, "queue page 40, due": queue_url + "?order=due"}
        endpoints += [(label, "deep") for label in deep]

    print(f"\n{'reviewer':10} {'groups':40} {'queue':>7}")
    for user in reviewers:
        groups = ", ".join(user.groups.order_by("name").values_list("name", flat=True))
        print(f"{user.username:10} {groups:40} {approval_pending_count(user=user, cap=None):>7,}")

    timings: dict[str, list[float]] = {label: [] for label, _ in endpoints}
    queries: dict[str, int] = {}
    for user in reviewers:
        client = Client()
        client.force_login(user)
        first = client.get("/bench/api/v1/approvals/").json()
        later_url = first["next"]
        for _ in range(3):  # follow a few pages to reach "later"
            later_url = client.get(later_url).json()["next"] or later_url
        for label, url in endpoints:
            if url == "deep" and user.username not in DEEP_REVIEWERS:
                continue
            target = later_url if url == "later" else follow_next(client, deep[label], 39) if url == "deep" else url
            started = time.perf_counter()
            response = client.get(target)  # warm up (three times unless the page is slow)
            assert response.status_code == 200, (label, response.status_code)
            each = time.perf_counter() - started
            if each < 0.5:
                for _ in range(2):
                    client.get(target)
            # slow pages get fewer samples so that the whole run stays within a few minutes
            samples = max(3, min(args.samples, int(BUDGET_PER_ENDPOINT / len(reviewers) / max(each, 1e-6))))
            with CaptureQueriesContext(connection) as captured:
                client.get(target)
            queries[label] = len(captured)
            for _ in range(samples):
                t0 = time.perf_counter()
                client.get(target)
                timings[label].append((time.perf_counter() - t0) * 1000)
        print(f"  timed {user.username}", flush=True)

    bare_median = statistics.median(timings["bare Django view"])
    bare_p95 = percentile(timings["bare Django view"], 95)
    print(
        f"\n{len(reviewers)} reviewers, up to {args.samples} requests each per endpoint, PostgreSQL "
        f"{connection.pg_version // 10000}, full middleware stack (session auth), times in ms\n"
    )
    print(f"{'endpoint':26} {'n':>4} {'queries':>7} {'median':>8} {'p95':>8} {'median×bare':>12} {'p95×bare':>9}")
    for label, values in timings.items():
        median, p95 = statistics.median(values), percentile(values, 95)
        print(
            f"{label:26} {len(values):>4} {queries[label]:>7} {median:>8.2f} {p95:>8.2f} "
            f"{median / bare_median:>12.1f} {p95 / bare_p95:>9.1f}"
        )
    user_median = statistics.median(timings["bare view + session user"])
    for label in ("API list, first page", "API list, later page"):
        ratio = statistics.median(timings[label]) / user_median
        verdict = "MET" if ratio <= 5 else "NOT MET"
        print(f"{label} ÷ bare view + session user (median): {ratio:.1f}× — target ≤ 5×: {verdict}")
    worst = max(percentile(v, 95) for k, v in timings.items() if k.startswith("API"))
    print(f"\ntarget p95 ≤ 50 ms for the API list: {'MET' if worst <= 50 else 'NOT MET'} ({worst:.1f} ms)")

    sql, params = approval_queue_for(user=reviewers[0]).order_by("id")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print("\nqueue query plan (first page, agent):")
    print("\n".join("  " + line for line in plan[:14]))


if __name__ == "__main__":
    main()

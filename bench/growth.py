"""Benchmark: how each page's cost grows with the data, on PostgreSQL.

    .venv/bin/python bench/growth.py                     # sizes 10,000, 50,000, 100,000
    .venv/bin/python bench/growth.py --quick             # sizes 1,000, 3,000, 6,000 (a smoke run)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_growth .venv/bin/python bench/growth.py \\
        [--sizes 10000,50000,100000] [--repeat 30] [--cold 3] [--budget 10] [--reseed]

``--quick`` takes about 5 minutes on two busy cores. The default run is meant to stay within about 20
minutes on two cores: seeding grows one database (the largest size is loaded once), and a slow page
gets fewer timed requests (``--budget`` seconds per page and size, at least 5 requests).

Creates the database if it is missing (default ``hitl_bench_growth``) and migrates it. A size N means N
of everything a page lists: N contacts (one account per 50, one activity each), N pending review
requests on those contacts (plus N/5 decided ones) routed to the role groups with their direct-FK
object-permission rows, N cases, N leads (one engagement event each). The database grows from the
smallest size to the largest (bulk_create in chunks, ANALYZE after each size), so a run loads the
largest size once; a database holding more than the smallest size is emptied first.

At each size it times, through Django's full request stack (middleware, session auth) with a
signed-in ``django.test.Client`` per person (a support agent, a sales rep, a manager), every page
below and a bare view that loads the session user, in interleaved rounds (one request per page per
round, so a load spike from elsewhere on the machine hits every page alike). Deep pages are the
same depth at every size: the review queue's ``?page=`` and the cursor pages reached by following
"Next" the same number of times. Per page and size it prints median and p95 ms, the queries of one
request (counters cached as they are between visits; "cold" = just after the kernel counters
expired, the request a visitor pays every ``HITL_CRM_COUNTER_SECONDS``), the cold median and the
ratio to the bare view; then a summary with the targets: p95 ≤ 50 ms at the largest size, median at
the largest size ≤ 1.3 × the median at the smallest, and the same query count at every size.

There is no separate service or leads dashboard page: "service dashboard" and "leads dashboard"
are the dashboard (``web:dashboard``) as a support agent and as a sales rep, whose figures and
"mine to do today" come from those apps; the main dashboard is the manager's, with every app's.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hitl_bench_growth")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-growth-7e1c3a5b9d2f4e6a")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "text")
os.environ.setdefault("API_THROTTLE_USER", "1000000/minute")  # the API is timed, not throttled

DEFAULT_SIZES = (10_000, 50_000, 100_000)
QUICK_SIZES = (1_000, 3_000, 6_000)
CHUNK = 5_000
CONTACTS_PER_ACCOUNT = 50
PER_PAGE = 25  # the review queue, the case inbox and the prospects list
API_PAGE = 50  # the API's cursor pages
MAX_DEPTH = 200  # pages followed to reach a "deep" page (at most)
SLOW_S = 1.0  # a request slower than this: one warm-up and one cold request only
MIN_SAMPLES = 5
TARGET_P95_MS = 50.0
TARGET_GROWTH = 1.3
DOMAIN = "growth.example"

FIRST_NAMES = [
    "Anna", "Maria", "James", "Wei", "Olga", "Liam", "Noah", "Emma", "Sofia", "Lucas", "Mia", "Ava", "Yuki",
    "Omar", "Fatima", "Ivan", "Elena", "Pablo", "Chloe", "Aarav", "Priya", "Hugo", "Ines", "Lena", "Jonas",
    "Sara", "Tom", "Nina", "Ali", "Grace", "Ben", "Zoe", "Leo", "Ella", "Max", "Ida", "Kai", "Ruth", "Sam", "Eva",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Garcia", "Chen", "Novak", "Jensen", "Rossi", "Kowalski", "Silva", "Müller", "Dubois", "Tanaka",
    "Okafor", "Haddad", "Ivanova", "Larsen", "Murphy", "Nguyen", "Patel", "Schmidt", "Berg", "Costa", "Weber",
    "Hansen", "Moreau", "Kim", "Lopez", "Fischer", "Andersen", "Romano", "Sato", "Brown", "Wilson",
]  # fmt: skip
CONTACT_WORD = "maria"  # a first name: 1 contact in 40
SUBJECTS = [
    "Where is my order NW-{n}?",
    "Refund for order NW-{n}",
    "Order NW-{n} arrived damaged",
    "Change the address on my order",
    "Question about sizing",
    "Invoice {n} looks wrong",
    "Cannot sign in to my account",
    "Do you ship to Norway?",
    "Returning a jacket",
    "Payment declined twice",
    "Complaint about the courier",
    "Product question: tent poles",
]  # "order" in a third of the subjects
CASE_WORD = "order"
INTENTS = ["track_order", "get_refund", "return_item", "damaged_item", "product_question", "change_order",
           "payment_issue", "check_invoice", "account_access", "complaint", "other"]  # fmt: skip
COMPANY_ADJECTIVES = ["Northern", "Blue", "Granite", "Pioneer", "Summit", "Harbor", "Cedar", "Atlas", "Golden", "Fjord"]
COMPANY_NOUNS = ["Outfitters", "Supply", "Trading", "Works", "Labs", "Foods", "Travel", "Studio"]
LEAD_WORD = "supply"  # a company noun: 1 lead in 8
SOURCES = ["Referral", "Partner", "Trade show", "Web form", "Paid search", "Cold outreach"]
INDUSTRIES = ["Hospitality", "Education", "Tourism", "Retail", "Construction", "Healthcare", "Research"]
ACTIVITY_KINDS = ["note", "call", "email_in", "email_out", "site_visit", "purchase"]

PERSONAS = {"agent": "Support agent", "rep": "Sales rep", "manager": "Manager"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_database() -> str:
    url = os.environ["DATABASE_URL"]
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://…/hitl_bench_growth (this benchmark is for PostgreSQL).")
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")
    return name


# --- data ----------------------------------------------------------------------------------------


def personas() -> dict[str, Any]:
    """The three people the pages are timed for, each in their role group only."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    people = {}
    for key, role in PERSONAS.items():
        user, created = User.objects.get_or_create(
            username=f"growth-{key}",
            defaults={"email": f"growth-{key}@staff.{DOMAIN}", "first_name": key.title(), "last_name": "Growth"},
        )
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.set([Group.objects.get(name=role)])
        people[key] = user
    return people


def seeded() -> int:
    """How many of everything the database holds (chunks are atomic, so the contacts tell)."""
    from hitl_crm.contacts.models import Contact

    return Contact.objects.filter(email__endswith=f"@{DOMAIN}").count()


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE approvals_approvalrequest, approvals_approvalrequestgroupobjectpermission, "
            "approvals_approvalrequestuserobjectpermission, approvals_decision, approvals_auditevent, "
            "service_message, service_case, leads_leadevent, leads_leadscorehistory, leads_lead, "
            "contacts_activity, contacts_contact, contacts_account RESTART IDENTITY CASCADE"
        )


def grow_to(target: int, people: dict[str, Any]) -> None:
    """Add rows ``seeded() .. target`` of every table, a chunk per transaction, then ANALYZE."""
    from django.db import connection

    have = seeded()
    if have >= target:
        return
    started = time.perf_counter()
    for start in range(have, target, CHUNK):
        _chunk(start, min(target, start + CHUNK), people)
        log(f"  seeded {min(target, start + CHUNK):>9,} / {target:,}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"  grew {have:,} → {target:,} in {time.perf_counter() - started:.1f} s (ANALYZE included)")


def _chunk(a: int, b: int, people: dict[str, Any]) -> None:
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone

    from approvals.handlers import NOTIFY_EMAIL
    from approvals.models import (
        ApprovalPolicy,
        ApprovalRequest,
        ApprovalRequestGroupObjectPermission,
        ApprovalRequestUserObjectPermission,
    )
    from approvals.payloads import payload_hash
    from hitl_crm.contacts.models import Account, Activity, Contact, contact_search_expression
    from leads.models import Lead, LeadEvent, LeadScoreHistory
    from service.models import Case, Message

    rng = random.Random(a)  # the rows of an index range are the same whenever they are loaded
    now = timezone.now()
    agent, rep = people["agent"], people["rep"]
    groups = {role: Group.objects.get(name=role) for role in PERSONAS.values()}
    permission = Permission.objects.get(codename="review_approvalrequest", content_type__app_label="approvals")
    contact_type = ContentType.objects.get_for_model(Contact)
    policy, _ = ApprovalPolicy.objects.get_or_create(
        name="Email to a contact (growth bench)", defaults={"action": NOTIFY_EMAIL}
    )
    with transaction.atomic():
        # accounts: one per 50 contacts, a tenth VIP, some owned by the rep
        wanted = sorted({i // CONTACTS_PER_ACCOUNT for i in range(a, b)})
        domains = {j: f"a{j}.{DOMAIN}" for j in wanted}
        accounts = {acc.domain: acc for acc in Account.objects.filter(domain__in=domains.values())}
        missing = [
            Account(
                name=f"{COMPANY_ADJECTIVES[j % 10]} {COMPANY_NOUNS[j % 8]} {j}",
                domain=domains[j],
                tier="vip" if j % 10 == 0 else "standard",
                owner=rep if j % 40 == 0 else None,
            )
            for j in wanted
            if domains[j] not in accounts
        ]
        accounts.update({acc.domain: acc for acc in Account.objects.bulk_create(missing)})

        contacts = Contact.objects.bulk_create(
            Contact(
                account=accounts[domains[i // CONTACTS_PER_ACCOUNT]],
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(i * 7) % len(LAST_NAMES)],
                email=f"c{i}@{DOMAIN}",
                title="Buyer",
                email_consent=i % 3 != 0,
                created_at=now - timedelta(days=rng.randint(0, 720)),
            )
            for i in range(a, b)
        )
        first_pk, last_pk = contacts[0].pk, contacts[-1].pk
        Contact.objects.filter(pk__gte=first_pk, pk__lte=last_pk).update(search_text=contact_search_expression())
        Activity.objects.bulk_create(
            Activity(
                contact=c,
                kind=rng.choice(ACTIVITY_KINDS),
                occurred_at=now - timedelta(minutes=rng.randint(0, 60 * 24 * 60)),
                summary=f"Bench activity for {c.first_name}",
                source="bench",
            )
            for c in contacts
        )

        # review requests: one pending per contact (the one-open-request constraint), a fifth decided
        requests = []
        for offset, contact in enumerate(contacts):
            i = a + offset
            payload = {
                "to": contact.email,
                "subject": "Your order has shipped",
                "body": f"Hi {contact.first_name},\nyour order left the warehouse today.",
            }
            for pending in (True, False) if i % 5 == 0 else (True,):
                created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 10))
                requests.append(
                    ApprovalRequest(
                        action=NOTIFY_EMAIL,
                        content_type=contact_type,
                        object_id=str(contact.pk),
                        proposal=payload,
                        final=payload,
                        payload_hash=payload_hash(payload),
                        subject_version="bench",
                        confidence=round(rng.random(), 3),
                        risk=rng.choice(["low", "low", "low", "medium", "high"]),
                        category=rng.choice(["shipping", "billing", "general"]),
                        context={"category": "shipping"},
                        status="pending" if pending else rng.choice(["rejected", "cancelled"]),
                        policy=policy,
                        due_at=created + timedelta(hours=4),
                        sla_due_at=created + timedelta(hours=4),
                        escalation_level=1 if pending and rng.random() < 0.1 else 0,
                        created_at=created,
                        decided_at=None if pending else created + timedelta(minutes=30),
                    )
                )
        requests = ApprovalRequest.objects.bulk_create(requests)
        group_rows, user_rows = [], []
        for req in requests:
            draw = rng.random()
            routed = [
                groups["Support agent"] if draw < 0.6 else groups["Sales rep"] if draw < 0.85 else groups["Manager"]
            ]
            if req.escalation_level and groups["Manager"] not in routed:
                routed.append(groups["Manager"])
            group_rows += [
                ApprovalRequestGroupObjectPermission(content_object=req, group=g, permission=permission) for g in routed
            ]
            if rng.random() < 0.03:
                user_rows.append(
                    ApprovalRequestUserObjectPermission(content_object=req, user=agent, permission=permission)
                )
        ApprovalRequestGroupObjectPermission.objects.bulk_create(group_rows)
        ApprovalRequestUserObjectPermission.objects.bulk_create(user_rows, ignore_conflicts=True)

        # cases: one per contact, the service bench's spreads, a few the agent's
        statuses = ["open"] * 30 + ["pending_customer"] * 15 + ["resolved"] * 40 + ["closed"] * 15
        risks = ["low"] * 70 + ["medium"] * 20 + ["high"] * 8 + ["critical"] * 2
        cases = []
        for offset, contact in enumerate(contacts):
            i = a + offset
            status = rng.choice(statuses)
            last = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            cases.append(
                Case(
                    contact=contact,
                    subject=SUBJECTS[i % len(SUBJECTS)].format(n=10_000 + i),
                    thread_key="growth-detail" if i == 0 else f"case {i}",
                    status=status,
                    risk=rng.choice(risks),
                    owner=agent if i % 25 == 0 else None,
                    intent=rng.choice(INTENTS),
                    intent_confidence=round(rng.random(), 3),
                    sentiment=round(rng.uniform(-1, 1), 3),
                    needs_human=status in ("open", "pending_customer") and rng.random() < 0.15,
                    needs_human_reason="No knowledge article answers this.",
                    summary="The customer asks where their parcel is." if i == 0 else "",
                    last_message_at=last,
                    waiting_since=last if status == "open" else None,
                    created_at=last - timedelta(hours=2),
                    thread_version=4 if i == 0 else 1,
                    summary_version=4 if i == 0 else 1,
                )
            )
        cases = Case.objects.bulk_create(cases)

        # leads: most scored, most open, a few the rep's, one engagement event each
        leads = []
        thresholds = [(75, "A"), (50, "B"), (25, "C"), (0, "D")]
        for i in range(a, b):
            score = rng.randint(0, 100) if rng.random() < 0.85 else None
            closed = rng.random() < 0.15
            leads.append(
                Lead(
                    external_id=f"g-{i}",
                    email=f"l{i}@prospect.{DOMAIN}",
                    first_name=FIRST_NAMES[(i * 3) % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[i % len(LAST_NAMES)],
                    company=f"{COMPANY_ADJECTIVES[i % 10]} {COMPANY_NOUNS[(i // 10) % 8]}",
                    employees=int(rng.lognormvariate(4, 1.3)),
                    industry=rng.choice(INDUSTRIES),
                    country="US",
                    source=rng.choice(SOURCES),
                    estimated_value=rng.randint(500, 50_000),
                    status=rng.choice(["won", "lost"]) if closed else rng.choice(["new", "working", "qualified"]),
                    closed_at=now if closed else None,
                    owner=rep if i % 20 == 0 else None,
                    score=score,
                    computed_score=score,
                    tier="" if score is None else next(t for low, t in thresholds if score >= low),
                    score_factors=[]
                    if score is None
                    else [
                        {"label": "Came through a referral", "value": 12, "kind": "rule"},
                        {"label": "Visited the pricing page", "value": 0.4, "kind": "model"},
                        {"label": "Small company", "value": -0.3, "kind": "model"},
                    ],
                    scored_at=None if score is None else now,
                    last_engaged_at=now - timedelta(days=rng.randint(0, 90)),
                    created_at=now - timedelta(days=rng.randint(0, 365)),
                )
            )
        leads = Lead.objects.bulk_create(leads)
        if hasattr(Lead, "search_text"):  # a maintained search column, where the leads app has one
            from leads import models as lead_models

            expression = getattr(lead_models, "lead_search_expression", None)
            if expression is not None:
                Lead.objects.filter(pk__gte=leads[0].pk, pk__lte=leads[-1].pk).update(search_text=expression())
        LeadEvent.objects.bulk_create(
            LeadEvent(
                lead=lead,
                kind=rng.choice(["email_opened", "email_clicked", "site_visit", "form", "meeting"]),
                occurred_at=now - timedelta(minutes=rng.randint(0, 60 * 24 * 90)),
                data={"page": rng.choice(["/pricing", "/blog", "/tents"])},
                source="bench",
            )
            for lead in leads
        )

        if a == 0:  # the detail pages' case and lead carry a thread and a history
            case, lead = cases[0], leads[0]
            Message.objects.bulk_create(
                Message(
                    case=case,
                    direction="in" if k % 2 == 0 else "out",
                    sender=case.contact.email if k % 2 == 0 else f"support@{DOMAIN}",
                    subject=case.subject,
                    body=f"Message {k} of the thread: where is the parcel with order NW-10000?",
                    occurred_at=now - timedelta(hours=8 - k),
                    message_id=f"<growth-detail-{k}@{DOMAIN}>",
                )
                for k in range(4)
            )
            LeadEvent.objects.bulk_create(
                LeadEvent(lead=lead, kind="site_visit", occurred_at=now - timedelta(days=k), data={"page": "/pricing"})
                for k in range(10)
            )
            LeadScoreHistory.objects.bulk_create(
                LeadScoreHistory(
                    lead=lead, score=40 + 10 * k, tier="C" if k < 2 else "B", created_at=now - timedelta(days=3 - k)
                )
                for k in range(3)
            )


# --- pages ---------------------------------------------------------------------------------------


class Skip(Exception):
    """A page that cannot be timed (not routed, needs a parameter we cannot get, or errors)."""


@dataclass
class Page:
    label: str
    persona: str
    build: Callable[[dict[str, Any]], tuple[str, dict[str, str], dict[str, str]]]  # → (path, query, headers)


@dataclass
class Result:
    values: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    queries: int = 0
    cold_queries: int = 0
    skipped: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        return percentile(self.values, 95)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def bare_with_user(request):
    from django.http import HttpResponse

    return HttpResponse(request.user.get_username())  # loads the session's user, as any real page does


def build_urlconf():
    import types

    from django.urls import include, path

    from hitl_crm import urls as site

    module = types.ModuleType("bench_growth_urls")
    module.urlpatterns = [path("bench/bare-user/", bare_with_user), path("", include("hitl_crm.urls"))]  # type: ignore[attr-defined]
    for name in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(site, name):
            setattr(module, name, getattr(site, name))
    return module


def url(name: str, *args: Any) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, args=args)
    except NoReverseMatch as exc:
        raise Skip(f"URL {name!r} is not routed") from exc


NEXT_CURSOR = re.compile(r"[?&](?:amp;)?after=([A-Za-z0-9_-]+)")


def follow_after(client: Any, path: str, pages: int, query: dict[str, str] | None = None) -> str:
    """The ``after`` cursor of page ``pages + 1``, following the HTMX "Next" links from the first page."""
    cursor = ""
    for _ in range(pages):
        params = {**(query or {}), **({"after": cursor} if cursor else {})}
        response = client.get(path, params, HTTP_HX_REQUEST="true")
        if response.status_code != 200:
            raise Skip(f"{path} answered {response.status_code} while following Next")
        found = NEXT_CURSOR.search(response.content.decode())
        if not found:
            raise Skip(f"{path}: no Next link after {_ + 1} pages")
        cursor = found.group(1)
    return cursor


def follow_api(client: Any, path: str, pages: int) -> str:
    """The URL of the API list's page ``pages + 1``, following ``next``."""
    target = path
    for _ in range(pages):
        response = client.get(target)
        if response.status_code != 200:
            raise Skip(f"{path} answered {response.status_code} while following next")
        nxt = response.json().get("next")
        if not nxt:
            raise Skip(f"{path}: no next page after {_ + 1} pages")
        target = nxt
    return target


def pages_for(depth: dict[str, int]) -> list[Page]:
    """Every page timed, for its person. ``ctx`` (given to ``build`` at each size) has the clients and
    the detail pages' ids."""
    q, hx = {}, {"HTTP_HX_REQUEST": "true"}

    def api_deep(ctx: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
        return follow_api(ctx["clients"]["agent"], url("api:approval-list"), depth["api"]), q, {}

    def inbox_deep(ctx: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
        path = url("service:inbox")
        return path, {"after": follow_after(ctx["clients"]["agent"], path, depth["list"])}, hx

    def prospects_deep(ctx: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
        path = url("leads:prospects")
        return path, {"after": follow_after(ctx["clients"]["rep"], path, depth["list"])}, hx

    def case_detail(ctx: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
        if ctx["case"] is None:
            raise Skip("the detail case is missing")
        return url("service:case_detail", ctx["case"]), q, {}

    def lead_detail(ctx: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
        if ctx["lead"] is None:
            raise Skip("the detail lead is missing")
        return url("leads:detail", ctx["lead"]), q, {}

    queue_page = str(depth["queue"])
    return [
        Page("floor: bare view + user", "agent", lambda ctx: ("/bench/bare-user/", q, {})),
        Page("review queue, page 1", "agent", lambda ctx: (url("approvals:queue"), q, {})),
        Page(
            f"review queue, ?page={queue_page}", "agent", lambda ctx: (url("approvals:queue"), {"page": queue_page}, {})
        ),
        Page("API approvals, first page", "agent", lambda ctx: (url("api:approval-list"), q, {})),
        Page(f"API approvals, page {depth['api'] + 1} (next)", "agent", api_deep),
        Page("case inbox, page 1", "agent", lambda ctx: (url("service:inbox"), q, {})),
        Page(f"case inbox, search '{CASE_WORD}'", "agent", lambda ctx: (url("service:inbox"), {"q": CASE_WORD}, {})),
        Page(f"case inbox, page {depth['list'] + 1} (HTMX)", "agent", inbox_deep),
        Page("service dashboard (agent)", "agent", lambda ctx: (url("web:dashboard"), q, {})),
        Page("prospects, page 1", "rep", lambda ctx: (url("leads:prospects"), q, {})),
        Page(f"prospects, page {depth['list'] + 1} (HTMX)", "rep", prospects_deep),
        Page(f"prospects, search '{LEAD_WORD}'", "rep", lambda ctx: (url("leads:prospects"), {"q": LEAD_WORD}, {})),
        Page("leads dashboard (rep)", "rep", lambda ctx: (url("web:dashboard"), q, {})),
        Page("contacts, page 1", "manager", lambda ctx: (url("web:contact_list"), q, {})),
        Page(
            f"contacts, search '{CONTACT_WORD}'",
            "manager",
            lambda ctx: (url("web:contact_list"), {"q": CONTACT_WORD}, {}),
        ),
        Page("main dashboard (manager)", "manager", lambda ctx: (url("web:dashboard"), q, {})),
        Page("case detail", "agent", case_detail),
        Page("lead detail", "rep", lead_detail),
    ]


def depths(smallest: int, agent: Any) -> dict[str, int]:
    """How deep the deep pages go: 80% into what the smallest size holds (the same depth at every size)."""
    from approvals.selectors import approval_pending_count

    queue = approval_pending_count(user=agent, cap=None)
    return {
        "queue": max(2, min(10_000, int(0.8 * queue / PER_PAGE))),
        "api": max(1, min(MAX_DEPTH, int(0.8 * queue / API_PAGE))),
        "list": max(1, min(MAX_DEPTH, int(0.8 * smallest * 0.85 / PER_PAGE))),  # open leads; cases are all listed
    }


def measure(pages: list[Page], ctx: dict[str, Any], *, repeat: int, cold: int, budget: float) -> dict[str, Result]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results: dict[str, Result] = {}
    targets: dict[str, tuple[Any, str, dict[str, str], dict[str, str]]] = {}
    wanted: dict[str, int] = {}
    for page in pages:
        result = results[page.label] = Result()
        client = ctx["clients"][page.persona]
        try:
            path, query, headers = page.build(ctx)
            t0 = time.perf_counter()
            response = client.get(path, query, **headers)  # warm up (twice unless the page is slow)
            if response.status_code != 200:
                raise Skip(f"answered {response.status_code}")
            if time.perf_counter() - t0 < SLOW_S:
                client.get(path, query, **headers)
        except Skip as exc:
            result.skipped = str(exc)
            log(f"  skip {page.label}: {exc}")
            continue
        except Exception as exc:  # a page that errors is reported, not fatal
            result.skipped = f"{type(exc).__name__}: {exc}"[:120]
            log(f"  skip {page.label}: {result.skipped}")
            continue
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            client.get(path, query, **headers)
            each = time.perf_counter() - t0
        result.queries = len(captured)
        for k in range(max(1, cold if each < SLOW_S else 1)):
            cache.clear()  # the kernel counters (and the API throttle's history) start over
            with CaptureQueriesContext(connection) as captured:
                t0 = time.perf_counter()
                client.get(path, query, **headers)
                result.cold.append((time.perf_counter() - t0) * 1000)
            if k == 0:
                result.cold_queries = len(captured)
        client.get(path, query, **headers)  # counters cached again before the timed rounds
        # a slow page gets fewer samples (at least MIN_SAMPLES), so that a run stays within its budget
        wanted[page.label] = max(MIN_SAMPLES, min(repeat, int(budget / max(each, 1e-6))))
        targets[page.label] = (client, path, query, headers)
    for round_ in range(repeat):  # interleaved: one request per page per round
        for label, (client, path, query, headers) in targets.items():
            if round_ >= wanted[label]:
                continue
            t0 = time.perf_counter()
            client.get(path, query, **headers)
            results[label].values.append((time.perf_counter() - t0) * 1000)
        if (round_ + 1) % 10 == 0:
            log(f"  round {round_ + 1}/{repeat}")
    return results


# --- report --------------------------------------------------------------------------------------


def print_size(size: int, results: dict[str, Result], *, pg: int, repeat: int) -> None:
    floor = results["floor: bare view + user"]
    print(
        f"\nsize {size:,} (contacts, pending requests, cases, leads each), PostgreSQL {pg}, {repeat} requests "
        f"per page at most, ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'page':36} {'n':>3} {'queries':>7} {'cold q':>6} {'median':>8} {'p95':>8} {'cold':>8} {'× bare':>7}")
    for label, r in results.items():
        if r.skipped:
            print(f"{label:36} skipped: {r.skipped}")
            continue
        ratio = r.median / floor.median if floor.values else float("nan")
        print(
            f"{label:36} {len(r.values):>3} {r.queries:>7} {r.cold_queries:>6} {r.median:>8.2f} {r.p95:>8.2f} "
            f"{statistics.median(r.cold):>8.2f} {ratio:>7.1f}"
        )
    sys.stdout.flush()


def print_summary(runs: dict[int, dict[str, Result]]) -> None:
    sizes = sorted(runs)
    small, large = runs[sizes[0]], runs[sizes[-1]]
    floor = large["floor: bare view + user"]
    print(
        f"\nsummary: {sizes[0]:,} → {sizes[-1]:,}; targets: p95 ≤ {TARGET_P95_MS:.0f} ms at {sizes[-1]:,}, "
        f"median at {sizes[-1]:,} ≤ {TARGET_GROWTH}× median at {sizes[0]:,}, the same queries at every size "
        f"(cached and cold counters)"
    )
    print(f"{'page':36} {'p95 ms':>8} {'× bare':>7} {'L/S':>6} {'queries':>14}  verdict")
    missed_any = 0
    for label in large:
        if label.startswith("floor"):
            print(f"{label:36} {floor.p95:>8.2f} {1.0:>7.1f} {large[label].median / small[label].median:>6.2f}")
            continue
        skipped = next((runs[s][label].skipped for s in sizes if runs[s][label].skipped), "")
        if skipped:
            print(f"{label:36} skipped: {skipped}")
            continue
        lr = large[label]
        growth = lr.median / small[label].median
        counts = [runs[s][label].queries for s in sizes]
        colds = [runs[s][label].cold_queries for s in sizes]
        same = len(set(counts)) == 1 and len(set(colds)) == 1
        shown = f"{counts[0]}" if len(set(counts)) == 1 else "→".join(map(str, counts))
        shown += f" ({colds[0]})" if len(set(colds)) == 1 else f" ({'→'.join(map(str, colds))})"
        missed = [
            name
            for name, ok in (("p95", lr.p95 <= TARGET_P95_MS), ("growth", growth <= TARGET_GROWTH), ("queries", same))
            if not ok
        ]
        missed_any += bool(missed)
        verdict = "met" if not missed else "MISSED " + ", ".join(missed)
        print(f"{label:36} {lr.p95:>8.2f} {lr.median / floor.median:>7.1f} {growth:>6.2f} {shown:>14}  {verdict}")
    print(
        "\n(queries: one request with the counters cached, in brackets just after they expired; "
        "L/S: median at the largest size / median at the smallest; × bare: median / the bare view's median)"
    )
    print(f"{missed_any} page(s) missed a target." if missed_any else "every page met every target.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated, e.g. 10000,50000")
    parser.add_argument("--quick", action="store_true", help=f"sizes {','.join(map(str, QUICK_SIZES))} (a smoke run)")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page and size (default 30)")
    parser.add_argument("--cold", type=int, default=3, help="requests per page just after the counters expired")
    parser.add_argument(
        "--budget", type=float, default=10.0, help="seconds of timed requests per page and size, at most (default 10)"
    )
    parser.add_argument("--reseed", action="store_true", help="empty the bench tables first")
    args = parser.parse_args()
    sizes = sorted(QUICK_SIZES if args.quick else {int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if len(sizes) < 2 or sizes[0] <= 0:
        sys.exit("give at least two sizes above zero")
    name = ensure_database()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import clear_url_caches

    from hitl_crm.accounts.roles import roles_ensure
    from leads.models import Lead
    from service.models import Case

    # serve static names without a collectstatic manifest (the pages reference static files)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    log(f"database {name}: migrating …")
    call_command("migrate", verbosity=0)
    roles_ensure()
    people = personas()
    have = seeded()
    if args.reseed or have > sizes[0]:
        log(f"emptying the bench tables (they hold {have:,}, the smallest size is {sizes[0]:,})")
        reset()
    settings.ROOT_URLCONF = build_urlconf()
    clear_url_caches()

    started = time.perf_counter()
    runs: dict[int, dict[str, Result]] = {}
    pages: list[Page] = []
    for size in sizes:
        log(f"size {size:,}: seeding …")
        grow_to(size, people)
        if not pages:
            depth = depths(sizes[0], people["agent"])
            log(
                f"deep pages: review queue ?page={depth['queue']}, API page {depth['api'] + 1}, "
                f"inbox and prospects page {depth['list'] + 1}"
            )
            pages = pages_for(depth)
        clients = {}
        for key, user in people.items():
            clients[key] = Client()
            clients[key].force_login(user)
        ctx = {
            "clients": clients,
            "case": Case.objects.filter(thread_key="growth-detail").values_list("pk", flat=True).first(),
            "lead": Lead.objects.filter(external_id="g-0").values_list("pk", flat=True).first(),
        }
        log(f"size {size:,}: timing {len(pages)} pages × {args.repeat} …")
        runs[size] = measure(pages, ctx, repeat=args.repeat, cold=args.cold, budget=args.budget)
        print_size(size, runs[size], pg=connection.pg_version // 10000, repeat=args.repeat)
    print_summary(runs)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

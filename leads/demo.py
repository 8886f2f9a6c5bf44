"""Demo data for leads: a few hundred prospects with 90 days of believable engagement.

Deterministic (fixed seed) and idempotent: demo leads carry ``external_id`` "demo-…" and
are created only once; rules and the follow-up policy are keyed by name; the model is
trained only when none is active.

The outcomes follow a hidden propensity (referrals and partners convert more, bigger
companies a little more, engaged leads much more), so the model has something real to learn
and its factors read like a sales manager's intuition.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from leads.models import Lead, LeadEvent, ScoringModel, ScoringRule

SEED = 20_260_421
N_LEADS = 320
SOURCES = [
    ("Referral", 1.1, 12),
    ("Partner", 0.7, 8),
    ("Trade show", 0.3, 10),
    ("Webinar", 0.1, 10),
    ("Web form", 0.0, 25),
    ("Paid search", -0.4, 20),
    ("Cold outreach", -1.0, 15),
]
INDUSTRIES = [
    ("Hospitality", 0.2),
    ("Education", 0.3),
    ("Tourism", 0.1),
    ("Retail", -0.1),
    ("Construction", 0.0),
    ("Healthcare", 0.2),
    ("Public safety", 0.4),
    ("Sports club", -0.2),
    ("Research", 0.1),
]
COUNTRIES = ["US", "US", "US", "CA", "GB", "DE", "NL", "SE", "AU", "IE"]
FIRST = [
    "Avery",
    "Jordan",
    "Riley",
    "Morgan",
    "Quinn",
    "Harper",
    "Rowan",
    "Elliot",
    "Sasha",
    "Dakota",
    "Reese",
    "Camille",
    "Tomas",
    "Ingrid",
    "Malik",
    "Priya",
    "Yusuf",
    "Lena",
    "Diego",
    "Hana",
    "Oskar",
    "Freya",
    "Ravi",
    "Nadia",
    "Felix",
    "Aiko",
    "Bruno",
    "Clara",
    "Emil",
    "Zara",
]
LAST = [
    "Hale",
    "Moreno",
    "Lindgren",
    "Okafor",
    "Brennan",
    "Castillo",
    "Nakamura",
    "Whitfield",
    "Adeyemi",
    "Kowalski",
    "Fischer",
    "Duarte",
    "Ramsey",
    "Sorensen",
    "Bauer",
    "Iqbal",
    "Moss",
    "Vidal",
    "Keane",
    "Lund",
]
COMPANY_A = [
    "Summit",
    "Harbor",
    "Pine",
    "Granite",
    "Cedar",
    "North",
    "Blue",
    "Ridge",
    "Aspen",
    "Coastal",
    "Falcon",
    "Willow",
    "Timber",
    "Glacier",
    "Prairie",
    "Canyon",
]
COMPANY_B = [
    "Outfitters",
    "Lodges",
    "Academy",
    "Guides",
    "Clinics",
    "Events",
    "Builders",
    "Rescue",
    "Labs",
    "Adventures",
    "Camps",
    "Collective",
]
PAGES = ["/pricing", "/products/tents", "/products/jackets", "/blog/layering-guide", "/case-studies", "/about"]
INTERESTS = ["Tents", "Apparel", "Footwear", "Climbing gear", "Team uniforms"]
RULES = [
    {"name": "Employees ≥ 200", "target": "field", "path": "employees", "operator": "gte", "value": 200, "points": 15},
    {
        "name": "Visited pricing page in 14 days",
        "target": "engagement",
        "path": "site_visit",
        "operator": "gte",
        "value": 1,
        "within_days": 14,
        "event_match": {"page": "pricing"},
        "points": 20,
    },
    {
        "name": "Source = Referral",
        "target": "field",
        "path": "source",
        "operator": "eq",
        "value": "Referral",
        "points": 10,
    },
    {
        "name": "Meeting in the last 30 days",
        "target": "engagement",
        "path": "meeting",
        "operator": "gte",
        "value": 1,
        "within_days": 30,
        "points": 15,
    },
    {"name": "Past customer", "target": "engagement", "path": "purchase", "operator": "gte", "value": 1, "points": 10},
    {
        "name": "Budget confirmed",
        "target": "attribute",
        "path": "Budget confirmed",
        "operator": "eq",
        "value": "yes",
        "points": 10,
    },
    {
        "name": "Asked not to be emailed",
        "target": "field",
        "path": "do_not_email",
        "operator": "eq",
        "value": True,
        "points": -20,
    },
]
FOLLOWUP_POLICY = "Lead follow-up"


def _pick(rng: random.Random, weighted: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[w[-1] for w in weighted])[0]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _rules() -> int:
    created = 0
    for spec in RULES:
        _, new = ScoringRule.objects.get_or_create(
            name=spec["name"], defaults={k: v for k, v in spec.items() if k != "name"}
        )
        created += new
    return created


def _policy() -> bool:
    from approvals.models import ApprovalPolicy
    from hitl_crm.accounts.roles import MANAGER, SALES_REP
    from leads.followups import SEND_FOLLOWUP

    if ApprovalPolicy.objects.filter(action=SEND_FOLLOWUP).exists():
        return False
    policy = ApprovalPolicy.objects.create(
        name=FOLLOWUP_POLICY,
        action=SEND_FOLLOWUP,
        required_approvals=1,
        sla_minutes=480,
        escalation_group=Group.objects.filter(name=MANAGER).first(),
        description="A follow-up to a lead: a sales colleague or a manager signs off within 8 hours "
        "(the lead's owner cannot approve their own lead's email).",
    )
    policy.reviewer_groups.set(Group.objects.filter(name__in=[SALES_REP, MANAGER]))
    return True


def _leads(rng: random.Random, now: datetime) -> tuple[int, int]:
    from hitl_crm.contacts.models import Contact

    User = get_user_model()
    owners = list(User.objects.filter(username__in=["sam", "max"]).order_by("username"))
    owner_weights = [4 if u.username == "sam" else 1 for u in owners]
    contacts = list(Contact.objects.exclude(email="").order_by("id")[:40])
    taken = set(Lead.objects.exclude(email="").values_list("email", flat=True))
    leads: list[Lead] = []
    plans: list[tuple[float, bool]] = []
    for i in range(N_LEADS):
        source, source_effect, _ = _pick(rng, SOURCES)
        industry, industry_effect = rng.choice(INDUSTRIES)
        employees = int(math.exp(rng.gauss(4.2, 1.3)))
        propensity = rng.gauss(0, 0.8) + source_effect + industry_effect + 0.25 * (math.log1p(employees) - 4.2)
        contact = contacts[i] if i < len(contacts) and i % 3 == 0 and contacts[i].email not in taken else None
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        email = contact.email if contact else f"{first}.{last}.{i}@{company.lower().replace(' ', '')}.example".lower()
        closed = rng.random() < 0.48
        lead = Lead(
            external_id=f"demo-{i:04d}",
            contact=contact,
            account=contact.account if contact else None,
            first_name=contact.first_name if contact else first,
            last_name=contact.last_name if contact else last,
            email=email,
            title=rng.choice(["Buyer", "Operations lead", "Owner", "Program director", "Facilities"]),
            company=contact.account.name if contact and contact.account else company,
            employees=employees,
            industry=industry,
            country=rng.choice(COUNTRIES),
            source=source,
            estimated_value=Decimal(int(math.exp(rng.gauss(8.3, 0.8)))),
            do_not_email=rng.random() < 0.04,
            owner=rng.choices(owners, owner_weights)[0] if owners else None,
            attributes={
                "Budget confirmed": "yes" if rng.random() < _sigmoid(propensity) * 0.7 else "no",
                "Product interest": rng.choice(INTERESTS),
            },
            created_at=now - timedelta(days=rng.randint(20, 120)),
            score_dirty_at=now,
        )
        lead.search_text = lead.fresh_search_text()  # bulk_create bypasses Lead.save
        leads.append(lead)
        plans.append((propensity, closed))
    Lead.objects.bulk_create(leads)
    events: list[LeadEvent] = []
    for lead, (propensity, closed) in zip(leads, plans, strict=True):
        closed_at = now - timedelta(days=rng.randint(1, 45)) if closed else None
        horizon_end = closed_at or now
        intensity = max(0.2, 2.2 * _sigmoid(propensity) + rng.random())
        engagement = 0
        for _ in range(int(rng.expovariate(1 / (6 * intensity)))):
            when = horizon_end - timedelta(days=min(89.0, rng.expovariate(1 / (15 if propensity > 0.3 else 40))))
            kind = rng.choices(
                ["email_opened", "email_clicked", "site_visit", "form", "meeting"],
                weights=[40, 14, 30, 6, 4 + 6 * (propensity > 0.5)],
            )[0]
            data = {"page": rng.choice(PAGES)} if kind == "site_visit" else {}
            if kind == "form":
                data = {"form": rng.choice(["Contact us", "Demo request", "Catalogue download"])}
            if kind == "meeting":
                data = {"title": "Intro call", "note": "Asked about group pricing and delivery times?"}
            events.append(LeadEvent(lead=lead, kind=kind, occurred_at=when, data=data, source="demo"))
            engagement += 1 + (kind in ("meeting", "form")) * 2 + (data.get("page") == "/pricing") * 2
        if rng.random() < 0.12:
            for _ in range(rng.randint(1, 3)):
                events.append(
                    LeadEvent(
                        lead=lead,
                        kind="purchase",
                        amount=Decimal(rng.randint(200, 4000)),
                        occurred_at=horizon_end - timedelta(days=rng.randint(30, 300)),
                        data={"order": f"SO-{rng.randint(10000, 99999)}"},
                        source="demo",
                    )
                )
                engagement += 2
        if closed:
            won = rng.random() < _sigmoid(1.4 * propensity + 0.5 * math.log1p(engagement) - 1.4)
            lead.status = Lead.Status.WON if won else Lead.Status.LOST
            lead.closed_at = closed_at
        else:
            lead.status = rng.choices(["new", "working", "qualified"], weights=[4, 4, 2])[0]
    for event in events:
        event.created_at = event.occurred_at
    LeadEvent.objects.bulk_create(events, batch_size=1000)
    Lead.objects.bulk_update(leads, ["status", "closed_at"], batch_size=500)
    last_engaged: dict[int, datetime] = {}
    for event in events:
        last_engaged[event.lead_id] = max(last_engaged.get(event.lead_id, event.occurred_at), event.occurred_at)
    for lead in leads:
        lead.last_engaged_at = last_engaged.get(lead.pk)
    Lead.objects.bulk_update(leads, ["last_engaged_at"], batch_size=500)
    return len(leads), len(events)


def seed(*, stdout: TextIO) -> None:
    from leads.services import leads_rescore, scoring_model_train
    from leads.training import NotEnoughData

    rng = random.Random(SEED)
    now = timezone.now()
    with transaction.atomic():
        rules = _rules()
        policy = _policy()
        exists = Lead.objects.filter(external_id__startswith="demo-").exists()
        leads, events = (0, 0) if exists else _leads(rng, now)
    trained = ""
    if not ScoringModel.objects.filter(active=True).exists():
        try:
            model = scoring_model_train(note="demo")
            trained = f"; model v{model.version} trained (hold-out ROC AUC {model.metrics.get('roc_auc')})"
        except NotEnoughData as exc:
            trained = f"; no model ({exc})"
    leads_rescore(dirty=True)
    drafts = 0 if exists else _followups(now)
    stdout.write(
        f"leads: {leads} leads, {events} events, {rules} rules{' and the follow-up policy' if policy else ''}"
        f" created{trained}; {drafts} follow-up drafts waiting for approval"
    )


def _followups(now: datetime) -> int:
    """A couple of AI follow-up drafts for Sam's hottest open leads, so the review queue has some."""
    from approvals.exceptions import ApprovalError
    from leads.followups import followup_blocker, lead_followup_draft
    from leads.selectors import OPEN

    count = 0
    hot = Lead.objects.filter(owner__username="sam", status__in=OPEN, do_not_email=False).order_by("-score", "id")
    for lead in hot[:5]:
        if count >= 2 or followup_blocker(lead):
            continue
        try:
            outcome = lead_followup_draft(lead=lead)
        except ApprovalError:
            continue
        count += outcome.request is not None
    return count

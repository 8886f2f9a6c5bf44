"""Demo data for marketing: customer attributes, trained churn/propensity models, segments, an
approval policy, one past A/B-tested campaign with results, and one draft with AI variants.

Deterministic (fixed seed) and idempotent: attributes are added only where missing, segments,
policies and campaigns are keyed by name. The past campaign's sends are written directly —
they are history, not a send — and it is marked as imported.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models, transaction
from django.utils import timezone

from hitl_crm.accounts.roles import MANAGER, MARKETER
from hitl_crm.contacts.models import Activity, Contact
from marketing.models import Campaign, PredictiveModel, Segment, Send, Variant
from marketing.split import bucket, split_plan

PLANS = ("basic", "plus", "pro")
SEGMENTS = [
    (
        "At risk of churning",
        "Churn risk of 0.5 or more: worth a retention offer.",
        [{"field": "score.churn", "op": "gte", "value": 0.5}],
    ),
    (
        "Likely to buy soon",
        "Purchase propensity of 0.4 or more.",
        [{"field": "score.propensity", "op": "gte", "value": 0.4}],
    ),
    (
        "VIP and premium accounts",
        "Our biggest customers.",
        [{"field": "account.tier", "op": "in", "value": ["vip", "premium"]}],
    ),
    (
        "Bought in the last 90 days",
        "At least one purchase on the timeline in 90 days.",
        [{"field": "activity.purchase", "op": "gte", "value": 1, "days": 90}],
    ),
    ("Everyone who opted in", "All contacts (campaigns reach only those with consent).", []),
]
PAST = "Spring tents launch"
DRAFT = "Autumn insulated jackets"
PAST_BODY = (
    "Hi {first_name},\n\nOur new Trailblazer 4-season tent sets up in 3 minutes and keeps your team dry in "
    "any weather. See the details and the spring bulk prices: https://northwind.example/tents\n\n"
    "Best regards,\nMia from Northwind"
)
DRAFT_BRIEF = (
    "Our insulated jackets keep crews warm down to -20 °C and pack into their own pocket. "
    "Bulk orders for the autumn season ship within a week."
)
DRAFT_BODY = (
    "Hi {first_name},\n\nAutumn is coming: our insulated jackets keep your crew warm down to -20 °C and pack "
    "into their own pocket. Order by size for your team here: https://northwind.example/jackets\n\n"
    "Best regards,\nMia from Northwind"
)


def _attributes(rng: random.Random) -> int:
    """Give demo contacts plausible customer attributes and a churn label drawn from them."""
    changed = []
    for contact in Contact.objects.select_related("account").order_by("pk"):
        if "plan" in (contact.attributes or {}):
            continue
        tenure = rng.randint(1, 72)
        plan = rng.choices(PLANS, weights=(5, 3, 2))[0]
        spend = round({"basic": 40, "plus": 90, "pro": 180}[plan] * rng.uniform(0.7, 1.4), 2)
        cases = min(8, int(rng.expovariate(1 / 1.2)))
        vip = contact.account is not None and contact.account.tier == "vip"
        logit = 2.0 - 0.08 * tenure + 0.7 * cases - 1.0 * (plan == "pro") - 1.2 * vip + rng.gauss(0, 0.5)
        contact.attributes = {
            **(contact.attributes or {}),
            "tenure_months": tenure,
            "plan": plan,
            "monthly_spend": spend,
            "support_cases": cases,
            "churned": rng.random() < 1 / (1 + math.exp(-logit)),
        }
        changed.append(contact)
    Contact.objects.bulk_update(changed, ["attributes"], batch_size=500)
    _orders(rng, changed)
    return len(changed)


def _orders(rng: random.Random, contacts: list[Contact]) -> None:
    """Order history for the contacts that just got attributes: bigger plans buy more often, and
    customers who churned stopped buying. (History, so written directly, like the contacts demo.)"""
    now = timezone.now()
    rows = []
    for contact in contacts:
        attrs = contact.attributes
        monthly = {"basic": 0.25, "plus": 0.6, "pro": 1.1}[attrs["plan"]] * (0.15 if attrs["churned"] else 1.0)
        for month in range(6):
            for _ in range(_poisson(rng, monthly)):
                rows.append(
                    Activity(
                        contact=contact,
                        kind=Activity.Kind.PURCHASE,
                        source="demo",
                        occurred_at=now - timedelta(days=30 * month + rng.uniform(0, 30)),
                        summary=f"Order of {rng.randint(2, 40)} items ({attrs['plan']} plan)",
                    )
                )
    Activity.objects.bulk_create(rows, batch_size=500)
    latest: dict[int, datetime] = {}
    for row in rows:
        if row.occurred_at > latest.get(row.contact_id, row.occurred_at - timedelta(seconds=1)):
            latest[row.contact_id] = row.occurred_at
    for contact_id, when in latest.items():
        Contact.objects.filter(pk=contact_id).filter(
            models.Q(last_activity_at__isnull=True) | models.Q(last_activity_at__lt=when)
        ).update(last_activity_at=when)


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _models(stdout) -> None:
    from marketing.predictive import TrainingError
    from marketing.services import contact_scores_refresh, predictive_model_train

    for kind in PredictiveModel.Kind.values:
        if PredictiveModel.objects.filter(kind=kind, active=True).exists():
            continue
        try:
            model = predictive_model_train(kind=kind)
        except TrainingError as exc:
            stdout.write(f"marketing: {kind} model not trained: {exc}")
            continue
        scored = contact_scores_refresh(kind=kind)
        stdout.write(
            f"marketing: {model} trained (hold-out ROC AUC {model.metrics['roc_auc']:.2f}), {scored} contacts scored"
        )


def _policy() -> None:
    from approvals.models import ApprovalPolicy
    from marketing.handlers import SEND_CAMPAIGN

    policy, created = ApprovalPolicy.objects.get_or_create(
        name="Campaign sends",
        defaults={
            "action": SEND_CAMPAIGN,
            "required_approvals": 1,
            "sla_minutes": 480,
            "escalation_group": Group.objects.filter(name=MANAGER).first(),
            "description": "Any campaign send: another marketer or a manager signs off within 8 hours.",
        },
    )
    if created:
        policy.reviewer_groups.set(Group.objects.filter(name__in=[MARKETER, MANAGER]))


def _past_campaign(rng: random.Random, owner, segment: Segment) -> None:
    from marketing.selectors import audience_queryset

    if Campaign.objects.filter(name=PAST).exists():
        return
    now = timezone.now()
    started = now - timedelta(days=20)
    campaign = Campaign.objects.create(
        name=PAST,
        goal="Bulk pre-orders of the Trailblazer tent",
        brief="Spring launch of the Trailblazer tent.",
        product="Trailblazer 4-season tent",
        status=Campaign.Status.SENT,
        segment=segment,
        owner=owner,
        test_metric=Campaign.Metric.CLICK,
        baseline_rate=0.05,
        min_detectable_effect=0.05,
        created_at=started - timedelta(days=2),
        started_at=started,
        finished_at=started + timedelta(hours=1),
    )
    a = Variant.objects.create(
        campaign=campaign,
        subject="Trailblazer sets up in 3 minutes",
        body=PAST_BODY,
        style="benefit",
        origin=Variant.Origin.AI,
        status=Variant.Status.APPROVED,
        ai_score=0.95,
        created_by=owner,
    )
    b = Variant.objects.create(
        campaign=campaign,
        subject="Ready for a tent that keeps your team dry?",
        body=PAST_BODY,
        style="question",
        origin=Variant.Origin.AI,
        status=Variant.Status.APPROVED,
        ai_score=0.9,
        created_by=owner,
    )
    ids = list(audience_queryset(segment.rules).order_by("pk").values_list("pk", flat=True))
    plan = split_plan(arms=2, audience=len(ids), baseline=0.05, mde=0.05, power=0.8, alpha=0.05)
    rates = {a.pk: (0.38, 0.07, 0.02), b.pk: (0.47, 0.16, 0.05)}  # open, click, conversion
    sends, cells = [], {a.pk: 0, b.pk: 0}
    for contact_id in ids:
        value = bucket(campaign.pk, contact_id)
        variant = (a, b)[plan.cell_of(value) or 0]
        cells[variant.pk] += 1
        sent_at = started + timedelta(seconds=rng.randint(0, 3000))
        p_open, p_click, p_convert = rates[variant.pk]
        opened = sent_at + timedelta(hours=rng.expovariate(1 / 30)) if rng.random() < p_open else None
        clicked = opened + timedelta(minutes=rng.randint(1, 90)) if opened and rng.random() < p_click / p_open else None
        converted = (
            clicked + timedelta(hours=rng.randint(1, 72)) if clicked and rng.random() < p_convert / p_click else None
        )
        sends.append(
            Send(
                campaign=campaign,
                contact_id=contact_id,
                variant=variant,
                phase=Send.Phase.TEST,
                bucket=value,
                status=Send.Status.SENT,
                sent_at=sent_at,
                opened_at=opened,
                clicked_at=clicked,
                converted_at=converted,
            )
        )
    Send.objects.bulk_create(sends)
    copy = {
        str(v.pk): {"label": label, "subject": v.subject, "preheader": v.preheader, "body": v.body, "style": v.style}
        for label, v in (("A", a), ("B", b))
    }
    campaign.split = {
        **plan.as_dict(),
        "audience": len(ids),
        "cells": {"A": cells[a.pk], "B": cells[b.pk]},
        "remainder": 0,
        "variants": [{"id": a.pk, "label": "A"}, {"id": b.pk, "label": "B"}],
        "metric": "click",
    }
    # History from before this CRM: no approval request exists, so nothing of it can be (re)sent.
    campaign.approved_content = {"test": {"key": "", "imported": True, "variants": copy, "batches": []}}
    campaign.winner_variant = b
    campaign.save(update_fields=["split", "approved_content", "winner_variant"])


def _draft_campaign(owner) -> None:
    from marketing.services import campaign_create, campaign_generate_variants

    if Campaign.objects.filter(name=DRAFT).exists() or owner is None:
        return
    campaign = campaign_create(
        actor=owner,
        name=DRAFT,
        brief=DRAFT_BRIEF,
        goal="Autumn bulk orders",
        product="insulated jackets",
        audience_note="outdoor teams",
        default_body=DRAFT_BODY,
    )
    campaign_generate_variants(campaign=campaign, actor=owner, n=5)


def seed(*, stdout) -> None:
    rng = random.Random(20261122)
    with transaction.atomic():
        attributed = _attributes(rng)
    _models(stdout)
    User = get_user_model()
    owner = User.objects.filter(groups__name=MARKETER, is_active=True).order_by("pk").first()
    with transaction.atomic():
        made = 0
        for name, description, rules in SEGMENTS:
            _, created = Segment.objects.get_or_create(
                name=name, defaults={"description": description, "rules": rules, "owner": owner}
            )
            made += created
        _policy()
        _past_campaign(rng, owner, Segment.objects.get(name="Everyone who opted in"))
        _draft_campaign(owner)
    stdout.write(
        f"marketing: attributes for {attributed} contacts, {made} segments, {Campaign.objects.count()} campaigns"
    )

"""Demo data for approvals: default policies and a few requests so the queue is not empty.

Idempotent: policies are keyed by name, requests by (action, contact) — an open request
is never duplicated. ``HISTORY_DAYS`` of decided requests (approved, edited, rejected) give the
analytics charts something to show; they are written once, marked ``context["demo_history"]``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from approvals.audit import audit_record
from approvals.exceptions import AlreadyOpen
from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest, Decision, PayloadVersion
from approvals.payloads import edit_ratio, payload_diff, payload_hash
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT

# The shape feature apps copy for money: agents approve small refunds, managers large
# ones, and above the managers' limit two managers must agree (four-eyes).

DEMO_EMAILS = [
    (
        "Your order is on its way",
        "Hi {first},\n\nGood news: your order left our warehouse today. "
        "You will receive the tracking number by email as soon as the carrier scans it.\n\nBest regards,\nSue",
    ),
    (
        "About your question on sizing",
        "Hi {first},\n\nThe insulated jackets run slightly large; most customers "
        "of your height choose one size down. We can exchange it free of charge within 30 days.\n\nBest,\nSue",
    ),
    (
        "Spring catalogue",
        "Hi {first},\n\nAs promised, attached is our spring catalogue with the new "
        "4-season tents. Let me know which models you would like to test.\n\nKind regards,\nSam",
    ),
    (
        "Follow-up on your delivery",
        "Hi {first},\n\nI'm sorry the delivery was late. I have asked the "
        "warehouse to prioritise your next order.\n\nBest regards,\nSue",
    ),
]


def _policy(name: str, *, groups: list[Group], **fields) -> tuple[ApprovalPolicy, bool]:
    policy, created = ApprovalPolicy.objects.get_or_create(name=name, defaults=fields)
    if created:
        policy.reviewer_groups.set(groups)
    return policy, created


@transaction.atomic
def seed(*, stdout) -> None:
    agents = Group.objects.get(name=SUPPORT_AGENT)
    managers = Group.objects.get(name=MANAGER)
    created = 0
    _, new = _policy(
        "Email to a contact",
        groups=[agents],
        action=NOTIFY_EMAIL,
        required_approvals=1,
        sla_minutes=240,
        escalation_group=managers,
        description="Any plain email to a contact: one support agent signs off within 4 hours.",
    )
    created += new
    _, new = _policy(
        "Email to a VIP contact",
        groups=[managers],
        action=NOTIFY_EMAIL,
        vip=True,
        required_approvals=1,
        sla_minutes=120,
        escalation_group=managers,
        priority=10,
        description="VIP accounts: a manager signs off within 2 hours.",
    )
    created += new
    requests = 0
    from hitl_crm.contacts.models import Contact

    contacts = Contact.objects.exclude(email="").select_related("account").order_by("id")[: len(DEMO_EMAILS)]
    for contact, (subject, body) in zip(contacts, DEMO_EMAILS, strict=False):
        if ApprovalRequest.objects.filter(action=NOTIFY_EMAIL, object_id=str(contact.pk)).exists():
            continue
        try:
            approval_request_create(
                action=NOTIFY_EMAIL,
                subject=contact,
                proposal={"to": contact.email, "subject": subject, "body": body.format(first=contact.first_name)},
                confidence=0.72,
                risk="low",
                flags=[
                    {"code": "demo", "message": "Demo draft: check the facts before it goes out.", "severity": "info"}
                ],
                context={"category": "general", "vip": bool(contact.account and contact.account.is_vip)},
            )
            requests += 1
        except AlreadyOpen:
            continue
    stdout.write(f"approvals: {created} policies and {requests} pending requests created")
    history = seed_history(policy=ApprovalPolicy.objects.get(name="Email to a contact"), reviewers=agents)
    stdout.write(f"approvals: {history} past decisions written")


HISTORY_DAYS = 60
_EDITS = [
    ("Best regards,", "Kind regards,"),
    ("today", "this morning"),
    ("I'm sorry", "I apologise"),
    ("Let me know", "Tell me"),
    ("free of charge", "at no cost"),
]
_REJECT_REASONS = [Decision.Reason.WRONG_FACTS, Decision.Reason.TONE, Decision.Reason.NOT_NEEDED]


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    """Audit events take their time from the clock; for past demo decisions it reads ``moment``."""
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


def seed_history(*, policy: ApprovalPolicy, reviewers: Group, days: int = HISTORY_DAYS) -> int:
    """Past requests for the last ``days`` days, each decided by a reviewer after a realistic wait,
    with the audit events the services would have written at those times. Acceptance improves
    over the period (reviewers edit and reject less as the prompts get better). Written only
    once: returns 0 when the history exists or there is nobody to decide or write to."""
    from hitl_crm.contacts.models import Contact

    if ApprovalRequest.objects.filter(context__demo_history=True).exists():
        return 0
    people = list(User.objects.filter(groups=reviewers, is_active=True).order_by("pk"))
    contacts = list(Contact.objects.exclude(email="").order_by("pk")[:40])
    if not people or not contacts:
        return 0
    rng = random.Random(2026)  # the same history on every machine
    content_type = ContentType.objects.get_for_model(Contact)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    written = 0
    for days_ago in range(days, 0, -1):
        progress = 1 - days_ago / days  # 0 at the start of the period, ~1 yesterday
        for _ in range(rng.randint(2, 5)):
            contact = contacts[written % len(contacts)]
            subject, body = DEMO_EMAILS[written % len(DEMO_EMAILS)]
            created_at = today - timedelta(days=days_ago, hours=-8) + timedelta(minutes=rng.randint(0, 9 * 60))
            minutes = min(rng.lognormvariate(3.6, 0.9), 26 * 60)  # median ~35 min, sometimes the next day
            roll = rng.random()
            verdict = (
                Decision.Verdict.APPROVE
                if roll < 0.45 + 0.35 * progress
                else Decision.Verdict.APPROVE_WITH_EDITS
                if roll < 0.8 + 0.1 * progress
                else Decision.Verdict.REJECT
            )
            proposal = {"to": contact.email, "subject": subject, "body": body.format(first=contact.first_name)}
            _history_request(
                policy=policy,
                content_type=content_type,
                contact=contact,
                proposal=proposal,
                reviewer=people[written % len(people)],
                verdict=verdict,
                created_at=created_at,
                decided_at=created_at + timedelta(minutes=minutes),
                rng=rng,
            )
            written += 1
    return written


def _history_request(
    *,
    policy: ApprovalPolicy,
    content_type: ContentType,
    contact: Any,
    proposal: dict[str, Any],
    reviewer: User,
    verdict: str,
    created_at: datetime,
    decided_at: datetime,
    rng: random.Random,
) -> None:
    final = dict(proposal)
    if verdict == Decision.Verdict.APPROVE_WITH_EDITS:
        before, after = rng.choice([pair for pair in _EDITS if pair[0] in proposal["body"]])
        final["body"] = proposal["body"].replace(before, after)
    approving = verdict != Decision.Verdict.REJECT
    req = ApprovalRequest.objects.create(
        action=NOTIFY_EMAIL,
        content_type=content_type,
        object_id=str(contact.pk),
        proposal=proposal,
        final=final if approving else proposal,
        payload_hash=payload_hash(final if approving else proposal),
        version=2 if final != proposal and approving else 1,
        confidence=round(rng.uniform(0.55, 0.95), 2),
        risk=ApprovalRequest.Risk.LOW,
        context={"category": "general", "vip": False, "demo_history": True},
        category="general",
        status=ApprovalRequest.Status.EXECUTED if approving else ApprovalRequest.Status.REJECTED,
        required_approvals=policy.required_approvals,
        policy=policy,
        due_at=created_at + timedelta(minutes=policy.sla_minutes),
        sla_due_at=created_at + timedelta(minutes=policy.sla_minutes),
        created_at=created_at,
        decided_at=decided_at,
        executed_at=decided_at + timedelta(seconds=40) if approving else None,
        result={"sent": True} if approving else {},
    )
    PayloadVersion.objects.create(
        request=req,
        number=1,
        payload=proposal,
        payload_hash=payload_hash(proposal),
        source=PayloadVersion.Source.PROPOSAL,
        created_at=created_at,
    )
    with _clock_at(created_at):
        audit_record(
            verb="created",
            request=req,
            data={
                "action": NOTIFY_EMAIL,
                "subject": f"{content_type.app_label}.{content_type.model}:{contact.pk}",
                "payload_hash": payload_hash(proposal),
                "policy": policy.name,
            },
        )
    diff = payload_diff(proposal, final) if approving else {}
    decision = Decision.objects.create(
        request=req,
        reviewer=reviewer,
        verdict=verdict,
        payload_before=proposal,
        payload_after=final if approving else proposal,
        payload_hash=req.payload_hash,
        version=req.version,
        diff=diff,
        edit_ratio=edit_ratio(proposal, final) if approving else 0.0,
        reason="" if approving else rng.choice(_REJECT_REASONS),
        created_at=decided_at,
    )
    if diff:
        PayloadVersion.objects.create(
            request=req,
            number=2,
            payload=final,
            payload_hash=req.payload_hash,
            source=PayloadVersion.Source.EDIT,
            author=reviewer,
            decision=decision,
            created_at=decided_at,
        )
    with _clock_at(decided_at):
        audit_record(
            verb="decided",
            request=req,
            actor=reviewer,
            data={
                "decision": decision.pk,
                "verdict": verdict,
                "reason": decision.reason,
                "edited_fields": sorted(diff),
                "edit_ratio": decision.edit_ratio,
                "payload_hash": req.payload_hash,
            },
        )
    if approving:
        with _clock_at(decided_at + timedelta(seconds=40)):
            audit_record(verb="executed", request=req, data={"result": req.result})

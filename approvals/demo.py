"""Demo data for approvals: default policies and a few requests so the queue is not empty.

Idempotent: policies are keyed by name, requests by (action, contact) — an open request
is never duplicated.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from approvals.exceptions import AlreadyOpen
from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
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

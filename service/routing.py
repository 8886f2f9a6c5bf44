"""Who reviews what the service desk proposes: the default approval policies, and the flags and
context every request carries so that approvals can route it.

The routing table (``service_policies_ensure`` creates it; admins may edit it afterwards):

=====================================  =================================================
reply, routine (no condition)          one Support agent; autopilot configured but OFF
reply, negative sentiment              a Manager; no autopilot
reply, VIP account                     a Manager; no autopilot
reply, risk high or above (legal …)    a Manager; no autopilot
refund up to 20,000                    Support agents up to 500, Managers up to 20,000
refund above 20,000                    two Managers (four-eyes)
=====================================  =================================================

Policy matching picks the most specific policy, so any one of the conditions above takes a
reply away from the routine policy; autopilot never applies to a flagged or high-risk request.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT

SEND_REPLY = "service.send_reply"
ISSUE_REFUND = "service.issue_refund"

ROUTINE_REPLIES = "Service replies: routine"
NEGATIVE_REPLIES = "Service replies: upset customer"
VIP_REPLIES = "Service replies: VIP account"
RISKY_REPLIES = "Service replies: legal, regulator or safety risk"
REFUNDS_UP_TO_LIMIT = "Service refunds up to 20,000"
REFUNDS_ABOVE_LIMIT = "Service refunds above 20,000"
MANAGER_LIMIT = Decimal("20000")
AGENT_LIMIT = Decimal("500")

# The AI engine grades flags low/medium/high; approvals may know another vocabulary. A
# severity approvals does not accept is mapped to the nearest one that still asks for a
# person — never to "info", which would let the autopilot through.
_SEVERITY_FALLBACK = {"low": "warning", "medium": "warning", "high": "high", "critical": "critical"}


def approval_flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The AI's flag dicts as approvals accepts them (code, message, span, severity)."""
    from approvals import services as approval_services

    accepted = getattr(approval_services, "FLAG_SEVERITIES", None)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in flags:
        key = (str(item.get("code", "")), str(item.get("span", "")).lower())
        if key in seen:
            continue
        seen.add(key)
        severity = item.get("severity") or "medium"
        if accepted is not None and severity not in accepted:
            severity = _SEVERITY_FALLBACK.get(severity, "warning")
        out.append({**item, "severity": severity})
    return out


def _policy(name: str, *, groups: list[Group], limits: dict[Group, Decimal] | None = None, **fields: Any) -> bool:
    from approvals.models import ApprovalPolicy, AuthorityLimit

    policy, created = ApprovalPolicy.objects.get_or_create(name=name, defaults=fields)
    if created:
        policy.reviewer_groups.set(groups)
        for group, amount in (limits or {}).items():
            AuthorityLimit.objects.get_or_create(policy=policy, group=group, defaults={"max_amount": amount})
    return created


@transaction.atomic
def service_policies_ensure() -> int:
    """Create the service desk's default approval policies (keyed by name); return how many were new.

    Idempotent, and it never overwrites a policy an admin has edited.
    """
    agents, _ = Group.objects.get_or_create(name=SUPPORT_AGENT)
    managers, _ = Group.objects.get_or_create(name=MANAGER)
    created = 0
    created += _policy(
        ROUTINE_REPLIES,
        groups=[agents],
        action=SEND_REPLY,
        sla_minutes=240,
        escalation_group=managers,
        autopilot_enabled=False,
        autopilot_confidence=0.85,
        autopilot_target=0.95,
        autopilot_min_samples=50,
        autopilot_window_days=30,
        autopilot_spot_check=0.1,
        description="Routine, low-risk replies: one support agent signs off within 4 hours. Autopilot is set up "
        "but off: switch it on only when the acceptance numbers say so.",
    )
    for name, condition, text in (
        (NEGATIVE_REPLIES, {"negative_sentiment": True}, "The customer sounds upset"),
        (VIP_REPLIES, {"vip": True}, "The customer is at a VIP account"),
        (RISKY_REPLIES, {"min_risk": "high"}, "Legal threats, regulators, chargebacks or safety"),
    ):
        created += _policy(
            name,
            groups=[managers],
            action=SEND_REPLY,
            sla_minutes=120,
            escalation_group=managers,
            priority=10,
            autopilot_enabled=False,
            description=f"{text}: a manager signs off within 2 hours. Never autopilot.",
            **condition,
        )
    created += _policy(
        REFUNDS_UP_TO_LIMIT,
        groups=[agents, managers],
        limits={agents: AGENT_LIMIT, managers: MANAGER_LIMIT},
        action=ISSUE_REFUND,
        max_amount=MANAGER_LIMIT,
        sla_minutes=480,
        escalation_group=managers,
        description="Support agents approve refunds up to 500, managers up to 20,000.",
    )
    created += _policy(
        REFUNDS_ABOVE_LIMIT,
        groups=[managers],
        action=ISSUE_REFUND,
        min_amount=MANAGER_LIMIT + Decimal("0.01"),
        required_approvals=2,
        sla_minutes=1440,
        escalation_group=managers,
        description="Above 20,000 two managers must agree (four-eyes).",
    )
    return created

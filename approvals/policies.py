"""Policy matching and authority limits (pure functions over loaded rows)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from approvals.conf import app_settings
from approvals.models import RISK_ORDER, ApprovalPolicy, Risk


def to_decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def is_negative(sentiment: Any) -> bool:
    """``context["sentiment"]``: a compound score in [-1, 1] or a label such as "negative"."""
    if isinstance(sentiment, str):
        return sentiment.strip().lower() == "negative"
    if isinstance(sentiment, int | float | Decimal) and not isinstance(sentiment, bool):
        return float(sentiment) < app_settings.NEGATIVE_SENTIMENT_BELOW
    return False


def policy_matches(policy: ApprovalPolicy, *, context: dict[str, Any], risk: str) -> bool:
    amount = to_decimal(context.get("amount"))
    if policy.min_amount is not None and (amount is None or amount < policy.min_amount):
        return False
    if policy.max_amount is not None and (amount is None or amount > policy.max_amount):
        return False
    if policy.min_risk and RISK_ORDER[Risk(risk)] < RISK_ORDER[Risk(policy.min_risk)]:
        return False
    if policy.category and policy.category != (context.get("category") or ""):
        return False
    if policy.vip is not None and policy.vip != bool(context.get("vip")):
        return False
    return policy.negative_sentiment is None or policy.negative_sentiment == is_negative(context.get("sentiment"))


def policy_match(*, action: str, context: dict[str, Any], risk: str) -> ApprovalPolicy | None:
    """The most specific active policy for ``action`` that matches; ties go to higher priority, then age."""
    candidates = [
        policy
        for policy in ApprovalPolicy.objects.filter(action=action, is_active=True).prefetch_related(
            "reviewer_groups", "reviewer_users"
        )
        if policy_matches(policy, context=context, risk=risk)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (-p.specificity, -p.priority, p.pk))


def authority_of(*, policy: ApprovalPolicy | None, user: AbstractBaseUser) -> tuple[bool, Decimal | None]:
    """(limited, limit): whether the policy limits amounts at all, and the user's highest limit.

    A limit of ``None`` with ``limited`` True means the user may approve no amount; a limit
    row with an empty amount means no limit for that group.
    """
    if policy is None:
        return False, None
    limits = list(policy.authority_limits.all())
    if not limits:
        return False, None
    group_ids = set(user.groups.values_list("id", flat=True))
    mine = [limit for limit in limits if limit.group_id in group_ids]
    if not mine:
        return True, None
    if any(limit.max_amount is None for limit in mine):
        return False, None
    return True, max(limit.max_amount for limit in mine)

"""Policy matching and authority limits.

Amounts are money: a value and an ISO 4217 currency (``hitl_crm.money.Money``). A policy's
amount range is in the policy's currency and each authority limit in its own; an amount in
another currency is converted with the newest admin-maintained ``ExchangeRate`` valid on
the day (rounded up to the minor unit). A currency without a rate is never compared as a
bare number: ``NoExchangeRate`` is raised and the services refuse the request.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from approvals.conf import app_settings
from approvals.models import RISK_ORDER, ApprovalPolicy, ExchangeRate, Risk
from hitl_crm.money import Money, MoneyError


class NoExchangeRate(MoneyError):
    """No exchange rate converts ``currency`` into ``base`` (an admin must add one)."""

    def __init__(self, currency: str, base: str, where: str = "") -> None:
        self.currency, self.base = currency, base
        super().__init__(
            f"No exchange rate from {currency} to {base} is configured{where}; "
            f"amounts in {currency} cannot be checked against limits in {base}. An admin must add the rate."
        )


def exchange_rate(*, currency: str, base: str, on: date | None = None) -> Decimal | None:
    """Units of ``base`` per one ``currency`` valid on ``on`` (today): the newest rate from that day or before."""
    if currency == base:
        return Decimal(1)
    row = (
        ExchangeRate.objects.filter(currency=currency, base_currency=base, valid_from__lte=on or timezone.localdate())
        .order_by("-valid_from", "-id")
        .values_list("rate", flat=True)
        .first()
    )
    return row


def in_currency(amount: Money, currency: str, *, on: date | None = None, where: str = "") -> Money:
    """``amount`` in ``currency`` (rounded up); ``NoExchangeRate`` when no rate is configured."""
    if amount.currency == currency:
        return amount
    rate = exchange_rate(currency=amount.currency, base=currency, on=on)
    if rate is None:
        raise NoExchangeRate(amount.currency, currency, where)
    return amount.converted(currency, rate)


def context_money(context: dict[str, Any], *, default_currency: str) -> Money | None:
    """The routed amount of a request context (``amount`` and ``currency``), or None without an amount."""
    amount = to_decimal(context.get("amount"))
    if amount is None:
        return None
    return Money(amount, context.get("currency") or default_currency)


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


def amount_in_range(policy: ApprovalPolicy, money: Money) -> bool:
    """Whether ``money`` lies in the policy's amount range (inclusive, in the policy's currency)."""
    amount = in_currency(money, policy.currency, where=f" for policy “{policy}”").amount
    if policy.min_amount is not None and amount < policy.min_amount:
        return False
    return policy.max_amount is None or amount <= policy.max_amount


def policy_matches(policy: ApprovalPolicy, *, context: dict[str, Any], risk: str) -> bool:
    """Whether every condition of ``policy`` holds; ``NoExchangeRate`` if its amount range cannot be evaluated."""
    if policy.min_amount is not None or policy.max_amount is not None:
        money = context_money(context, default_currency=policy.currency)
        if money is None or not amount_in_range(policy, money):
            return False
    if policy.min_risk and RISK_ORDER[Risk(risk)] < RISK_ORDER[Risk(policy.min_risk)]:
        return False
    if policy.category and policy.category != (context.get("category") or ""):
        return False
    if policy.vip is not None and policy.vip != bool(context.get("vip")):
        return False
    return policy.negative_sentiment is None or policy.negative_sentiment == is_negative(context.get("sentiment"))


def _rank(policy: ApprovalPolicy) -> tuple[int, int, int]:
    return (-policy.specificity, -policy.priority, policy.pk)


def policy_match(*, action: str, context: dict[str, Any], risk: str) -> ApprovalPolicy | None:
    """The most specific active policy for ``action`` that matches; ties go to higher priority, then age.

    Raises ``NoExchangeRate`` when a policy whose amount range cannot be evaluated (its
    currency has no rate from the amount's) could have won: routing around it would hand
    the amount to reviewers without the limits meant for it.
    """
    candidates: list[ApprovalPolicy] = []
    unknown: list[tuple[ApprovalPolicy, NoExchangeRate]] = []
    for policy in ApprovalPolicy.objects.filter(action=action, is_active=True).prefetch_related(
        "reviewer_groups", "reviewer_users"
    ):
        try:
            if policy_matches(policy, context=context, risk=risk):
                candidates.append(policy)
        except NoExchangeRate as exc:
            unknown.append((policy, exc))
    winner = min(candidates, key=_rank) if candidates else None
    blocking = [(p, exc) for p, exc in unknown if winner is None or _rank(p) < _rank(winner)]
    if blocking:
        raise min(blocking, key=lambda item: _rank(item[0]))[1]
    return winner


def authority_of(*, policy: ApprovalPolicy | None, user: User) -> tuple[bool, list[Money]]:
    """(limited, limits): whether the policy limits amounts at all, and the user's limits (one per currency).

    ``limited`` with no limits means the user may approve no amount; a limit row with an
    empty amount means no limit for that group.
    """
    if policy is None:
        return False, []
    limits = list(policy.authority_limits.all())
    if not limits:
        return False, []
    group_ids = set(user.groups.values_list("id", flat=True))
    mine = [limit for limit in limits if limit.group_id in group_ids]
    best: dict[str, Money] = {}
    for limit in mine:
        if limit.max_amount is None:  # one of the user's groups has no limit: no limit at all
            return False, []
        money = Money(limit.max_amount, limit.currency)
        if limit.currency not in best or money > best[limit.currency]:
            best[limit.currency] = money
    return True, sorted(best.values(), key=lambda m: m.currency)


def within_authority(amount: Money, limits: list[Money], *, on: date | None = None) -> tuple[bool, Money]:
    """(allowed, limit): whether ``amount`` is at most one of ``limits`` (inclusive), and the limit used.

    A limit in the amount's own currency is used as is; otherwise the amount is converted
    to each limit's currency that has a rate. ``NoExchangeRate`` when none can be compared.
    """
    same = [limit for limit in limits if limit.currency == amount.currency]
    if same:
        return amount <= same[0], same[0]
    compared: list[tuple[bool, Money]] = []
    missing: NoExchangeRate | None = None
    for limit in limits:
        try:
            converted = in_currency(amount, limit.currency, on=on)
        except NoExchangeRate as exc:
            missing = missing or exc
            continue
        compared.append((converted <= limit, limit))
    if not compared:
        raise missing or NoExchangeRate(amount.currency, "any limit currency")
    allowed = [item for item in compared if item[0]]
    return (True, allowed[0][1]) if allowed else (False, compared[0][1])

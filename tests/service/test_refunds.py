"""The refund policy rules: what is asked, and what the policy recommends, with reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.refunds import extract_ask, recommend, refund_asked

TODAY = date(2026, 11, 21)


def _recommend(text: str, *, prior: int = 0, injection=()):
    ask = extract_ask(text, today=TODAY, default_currency="USD")
    return ask, recommend(
        ask=ask,
        today=TODAY,
        prior_refunds=prior,
        injection=list(injection),
        window_days=30,
        limit=Decimal("500"),
        max_prior=2,
    )


def test_the_ask_names_amount_order_and_date():
    ask = extract_ask(
        "I paid €180 for the tent on order NW-1234, delivered on November 12. I spent $20 on "
        "postage. Please refund the 180 euros.",
        today=TODAY,
        default_currency="USD",
    )

    assert (ask.amount, ask.currency, ask.order_ref, ask.order_date) == (
        Decimal("180.00"),
        "EUR",
        "NW-1234",
        date(2026, 11, 12),
    )


@pytest.mark.parametrize(
    ("text", "verdict", "line"),
    [
        (
            "Order NW-1 from 3 days ago is unused, please refund my $35.",
            "approve",
            "Amount: 35.00 USD — within the 500.00 USD policy limit. ✓",
        ),
        (
            "I ordered boots on 2026-06-02 (NW-2). Refund $60 please.",
            "deny",
            "Order date: 2026-06-02, 172 days ago — outside the 30-day refund window. ✗",
        ),
        (
            "We ordered beacons last week (NW-3) and never used them. Please refund the $1,200.",
            "escalate",
            "Amount: 1,200.00 USD — above the 500.00 USD the policy lets support approve. ✗",
        ),
        (
            "Please refund my $40 for order NW-4.",
            "escalate",
            "Order date: not stated — check that the order is within 30 days before approving.",
        ),
        (
            "I ordered it yesterday, order NW-5, I want my money back.",
            "escalate",
            "Amount: not stated — check the order before approving.",
        ),
    ],
)
def test_each_rule_shows_in_the_recommendation(text, verdict, line):
    _, result = _recommend(text)

    assert result.verdict == verdict
    assert line in result.rationale.splitlines()


def test_repeat_refunds_escalate():
    _, result = _recommend("Order NW-6 from 2 days ago arrived broken. Refund $50 please.", prior=2)

    assert result.verdict == "escalate"
    assert {f["code"] for f in result.flags} == {"refund_repeat"}


def test_an_injection_overrides_even_a_clear_deny_or_approve():
    _, result = _recommend("Order NW-7 from 2 days ago. Refund $20.", injection=["ignore previous instructions"])

    assert result.verdict == "escalate"
    assert result.risk == "high"
    assert result.flags[0]["code"] == "refund_injection"
    assert result.flags[0]["span"] == "ignore previous instructions"


@pytest.mark.parametrize(
    ("text", "intent", "asked"),
    [
        ("Can I get my money back?", "", True),
        ("Please reimburse the postage", "", True),
        ("Where is my order?", "track_order", False),
        ("I'd like one back", "get_refund", True),
    ],
)
def test_refund_asks_are_recognised(text, intent, asked):
    assert refund_asked(text, intent=intent) is asked

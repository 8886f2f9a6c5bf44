"""The refund policy as plain rules: what the customer asks for, and what the policy recommends.

Deterministic and explainable: every check appears in the rationale a reviewer reads, and
every reason to doubt becomes a flag. The AI never decides a refund; it only proposes one
for a person to approve, and an attempt to instruct the AI from inside a message can only
make the recommendation more cautious (escalate), never approve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.text import clip, sentences

REFUND_ASK = re.compile(
    r"\b(?:refund\w*|money back|reimburs\w*|pay (?:me )?back|repay\w*|credit (?:my|the) card)\b", re.IGNORECASE
)
_ORDER_CONTEXT = re.compile(
    r"\b(?:order\w*|bought|purchas\w*|deliver\w*|arriv\w*|receiv\w*|paid|ship\w*)\b", re.IGNORECASE
)
REFUND_INTENTS = frozenset({"get_refund"})
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple of": 2,
    "a few": 3,
}
_AGO = re.compile(
    r"\b(\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few)\s+"
    r"(day|week|month)s?\s+ago\b",
    re.IGNORECASE,
)
_LAST = re.compile(r"\b(?:last|past) (week|month)\b", re.IGNORECASE)
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30}

Verdict = str  # "approve" | "deny" | "escalate"
RISK_OF = {"approve": "low", "deny": "medium", "escalate": "high"}


@dataclass(frozen=True)
class RefundAsk:
    amount: Decimal | None
    currency: str
    order_ref: str
    order_date: date | None
    reason: str


@dataclass(frozen=True)
class Recommendation:
    verdict: Verdict
    rationale: str
    flags: list[dict[str, str]] = field(default_factory=list)

    @property
    def risk(self) -> str:
        return RISK_OF[self.verdict]


def refund_asked(text: str, *, intent: str = "") -> bool:
    """Whether the customer asks for money back (by triage's intent or in so many words)."""
    return intent in REFUND_INTENTS or bool(REFUND_ASK.search(text or ""))


def _flag(code: str, message: str, span: str, severity: str) -> dict[str, str]:
    return {"code": code, "message": message, "span": span, "severity": severity}


def extract_ask(
    text: str, *, today: date, default_currency: str, known_order_ids: list[str] | None = None
) -> RefundAsk:
    """Amount, currency, order reference and order date of a refund ask, from the customer's words.

    The amount is the one said next to the refund request (else the largest one named); the
    order date is the earliest calendar date up to today mentioned beside an order word.
    """
    parts = sentences(text) or [text]
    asking = [s for s in parts if REFUND_ASK.search(s)]
    amounts = [m for s in asking for m in facts.money(s)] or facts.money(text)
    chosen = max(amounts, key=lambda m: m.value) if amounts else None
    order_ids = facts.order_ids(text) or list(known_order_ids or [])
    dated: list[date] = []
    for sentence in parts:
        if not _ORDER_CONTEXT.search(sentence):
            continue
        dated.extend(_relative_dates(sentence, today))
        for mention in facts.dates(sentence, today=today):
            if mention.iso:
                day = date.fromisoformat(mention.iso)
                if day > today and mention.key.startswith("--"):  # "March 28" said in March means last year's?
                    day = day.replace(year=day.year - 1)
                if day <= today:
                    dated.append(day)
    return RefundAsk(
        amount=chosen.value.quantize(Decimal("0.01")) if chosen else None,
        currency=(chosen.currency if chosen and len(chosen.currency) == 3 else default_currency).upper(),
        order_ref=order_ids[0] if order_ids else "",
        order_date=min(dated) if dated else None,
        reason=clip(" ".join(asking) or text, 500),
    )


def _relative_dates(sentence: str, today: date) -> list[date]:
    """ "three days ago", "2 weeks ago", "last week" → calendar dates (a week is 7 days, a month 30)."""
    found = []
    for m in _AGO.finditer(sentence):
        raw = m.group(1).lower()
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)
        found.append(today - timedelta(days=n * _UNIT_DAYS[m.group(2).lower()]))
    for m in _LAST.finditer(sentence):
        found.append(today - timedelta(days=_UNIT_DAYS[m.group(1).lower()]))
    return found


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def recommend(
    *,
    ask: RefundAsk,
    today: date,
    prior_refunds: int,
    injection: list[str],
    window_days: int,
    limit: Decimal,
    max_prior: int,
) -> Recommendation:
    """Apply the refund policy: order age ≤ ``window_days``, amount ≤ ``limit``, fewer than
    ``max_prior`` refunds in 12 months. Injection attempts always escalate."""
    lines: list[str] = []
    flags: list[dict[str, str]] = []
    escalate = deny = False
    if injection:
        escalate = True
        lines.append(
            "The message contains instructions aimed at the AI, so the policy check is advisory only "
            "and a person must decide."
        )
        flags.append(
            _flag(
                "refund_injection",
                "The refund ask comes with instructions aimed at the AI; they were "
                "ignored and the refund needs a person's judgement.",
                injection[0],
                "high",
            )
        )
    if ask.amount is None:
        escalate = True
        lines.append("Amount: not stated — check the order before approving.")
        flags.append(
            _flag(
                "refund_amount_unknown",
                "The customer does not say how much; the amount must be checked against the order.",
                "",
                "medium",
            )
        )
    elif ask.amount > limit:
        escalate = True
        lines.append(
            f"Amount: {money(ask.amount, ask.currency)} — above the {money(limit, ask.currency)} the "
            "policy lets support approve. ✗"
        )
        flags.append(
            _flag(
                "refund_over_limit",
                f"{money(ask.amount, ask.currency)} is above the refund policy limit of {money(limit, ask.currency)}.",
                money(ask.amount, ask.currency),
                "high",
            )
        )
    else:
        lines.append(
            f"Amount: {money(ask.amount, ask.currency)} — within the {money(limit, ask.currency)} policy limit. ✓"
        )
    if ask.order_date is None:
        escalate = True
        lines.append(f"Order date: not stated — check that the order is within {window_days} days before approving.")
        flags.append(
            _flag(
                "refund_order_date_unknown",
                f"The order date is unknown; check it is within the {window_days}-day refund window.",
                "",
                "medium",
            )
        )
    else:
        age = (today - ask.order_date).days
        if age > window_days:
            deny = True
            lines.append(
                f"Order date: {ask.order_date.isoformat()}, {age} days ago — outside the {window_days}-day "
                "refund window. ✗"
            )
            flags.append(
                _flag(
                    "refund_outside_window",
                    f"The order is {age} days old; the policy allows refunds within {window_days} days.",
                    ask.order_date.isoformat(),
                    "medium",
                )
            )
        else:
            lines.append(
                f"Order date: {ask.order_date.isoformat()}, {age} days ago — within the {window_days}-day window. ✓"
            )
    if prior_refunds >= max_prior:
        escalate = True
        lines.append(
            f"Refunds to this customer in the last 12 months: {prior_refunds} — the policy asks for a "
            f"closer look from {max_prior}. ✗"
        )
        flags.append(
            _flag(
                "refund_repeat", f"This customer has had {prior_refunds} refunds in the last 12 months.", "", "medium"
            )
        )
    else:
        lines.append(f"Refunds to this customer in the last 12 months: {prior_refunds}. ✓")
    if ask.order_ref:
        lines.insert(0, f"Order: {ask.order_ref}.")
    if injection:
        verdict = "escalate"
    elif deny:
        verdict = "deny"
    elif escalate:
        verdict = "escalate"
    else:
        verdict = "approve"
    headline = {
        "approve": "Recommendation: approve — the ask meets every rule of the refund policy.",
        "deny": "Recommendation: deny — the ask falls outside the refund policy.",
        "escalate": "Recommendation: escalate — a person must judge this one.",
    }[verdict]
    return Recommendation(verdict, "\n".join([headline, *lines]), flags)

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
from hitl_crm.money import Money, MoneyError
from service.inbound import new_text

_AMOUNT = r"(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|euros|pounds|usd|eur|gbp|[$€£]))"
REFUND_ASK = re.compile(
    r"\b(?:refund\w*|money back|reimburs\w*|pay (?:me )?back|repay\w*|credit (?:my|the) card)\b"
    rf"|\b(?:my|the|our|all)\s+(?:{_AMOUNT}\s+|money\s+|cash\s+)back\b",
    re.IGNORECASE,
)
#: Said before the refund words in the same clause, these mean the customer does not ask for one:
#: "rather than a refund", "I don't want a refund", "no need for a refund".
_NEGATION = re.compile(
    r"(?:\brather than|\binstead of|\bin place of|\bother than|\bwithout|\bno need (?:for|of)|\bno longer"
    r"|\bnot\b|n't\b|\bnever\b|\bno\b|\bdont\b|\bwont\b|\bneither\b|\bnor\b)",
    re.IGNORECASE,
)
#: Asking after a refund already under way ("my refund has not shown up", "when will the refund reach
#: my card?") is not a new ask for money back.
_REFUND_STATUS = re.compile(
    r"\b(?:my|the|your) refund\b[^.?!]*\b(?:not (?:shown|arrived|come|reached)|hasn'?t|has not|reach|show(?:n|ed)? up|"
    r"arrive|land|go through|processed|status)\b|\bwhen will (?:my|the) refund\b",
    re.IGNORECASE,
)
_WANT = re.compile(r"\b(?:want|need|would like|'d like|expect|demand)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:but|however|though|although|so|because|and then)\b", re.IGNORECASE)
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


@dataclass(frozen=True)
class ThreadMessage:
    """One customer message of a thread, as refunds read it: its new text (quotes removed) and its day."""

    id: int
    text: str
    day: date


@dataclass(frozen=True)
class RefundReading:
    """What the whole thread says about money back. ``asked``: the customer's latest word on it is
    an ask (a later "I don't want a refund" takes an earlier ask back); ``ask_message_id`` is the
    message holding that ask; ``withdrawn``: an earlier ask was taken back."""

    asked: bool
    ask_message_id: int | None = None
    withdrawn: bool = False
    asking: tuple[str, ...] = ()


def _stance(sentence: str) -> bool | None:
    """True when the sentence asks for money back, False when it says it does not, None otherwise."""
    found = None
    if _REFUND_STATUS.search(sentence):
        return None  # read_thread notes it: the customer talks about a refund without asking for one
    for match in REFUND_ASK.finditer(sentence):
        before = _CLAUSE_BREAK.split(sentence[: match.start()])[-1]
        wants = list(_WANT.finditer(before))
        if wants:
            want = wants[-1]
            # "If it is not here by Friday I want my $189.99 back": the condition's "not" is not the
            # ask's; what counts is the want itself ("I don't want") and what follows it.
            before = before[max(0, want.start() - 12) : want.start()] + " " + before[want.end() :]
        if _NEGATION.search(before):
            return False
        found = True
    return found


def read_thread(messages: list[ThreadMessage], *, intent: str = "") -> RefundReading:
    """Read the refund ask of a whole thread (oldest message first). The latest stance wins;
    triage's ``get_refund`` intent counts as an ask only where no message says either way."""
    latest: bool | None = None
    ask_id: int | None = None
    asking: list[str] = []
    withdrawn = False
    status_only = False
    for message in messages:
        for sentence in sentences(message.text) or [message.text]:
            status_only = status_only or bool(_REFUND_STATUS.search(sentence))
            stance = _stance(sentence)
            if stance is True:
                latest, ask_id = True, message.id
                asking.append(sentence)
            elif stance is False:
                withdrawn = withdrawn or latest is True
                latest, ask_id, asking = False, None, []
    if latest is None and intent in REFUND_INTENTS and messages and not status_only:
        return RefundReading(True, messages[-1].id)
    return RefundReading(bool(latest), ask_id, withdrawn and not latest, tuple(asking))


def refund_asked(text: str, *, intent: str = "") -> bool:
    """Whether the customer asks for money back (by triage's intent or in so many words)."""
    return read_thread([ThreadMessage(0, new_text(text or ""), date.min)], intent=intent).asked


def _flag(code: str, message: str, span: str, severity: str) -> dict[str, str]:
    return {"code": code, "message": message, "span": span, "severity": severity}


def extract_ask(
    text: str, *, today: date, default_currency: str, known_order_ids: list[str] | None = None
) -> RefundAsk:
    """Amount, currency, order reference and order date of a refund ask, from the customer's words.

    The amount is the one said next to the refund request (else the largest one named); the
    order date is the earliest calendar date up to today mentioned beside an order word.
    """
    message = ThreadMessage(0, new_text(text), today)
    return extract_thread_ask(
        [message], read_thread([message]), default_currency=default_currency, known_order_ids=known_order_ids
    )


def extract_thread_ask(
    messages: list[ThreadMessage],
    reading: RefundReading,
    *,
    default_currency: str,
    known_order_ids: list[str] | None = None,
) -> RefundAsk:
    """The refund ask of a thread: the amount said with the (latest) ask, else the largest amount
    the thread names; the newest order reference; the earliest order date, each relative date read
    against the day its own message was written."""
    asking = list(reading.asking)
    whole = "\n".join(m.text for m in messages)
    amounts = [m for s in asking for m in facts.money(s)] or facts.money(whole)
    chosen = max(amounts, key=lambda m: m.value) if amounts else None
    order_ids = [i for m in reversed(messages) for i in facts.order_ids(m.text)] or list(known_order_ids or [])
    dated: list[date] = []
    for message in messages:
        for sentence in sentences(message.text) or [message.text]:
            if _ORDER_CONTEXT.search(sentence):
                dated.extend(_order_dates(sentence, message.day))
    return RefundAsk(
        amount=chosen.value.quantize(Decimal("0.01")) if chosen else None,
        currency=(chosen.currency if chosen and len(chosen.currency) == 3 else default_currency).upper(),
        order_ref=order_ids[0].upper() if order_ids else "",
        order_date=min(dated) if dated else None,
        reason=clip(" ".join(asking) or whole, 500),
    )


def _order_dates(sentence: str, today: date) -> list[date]:
    found = _relative_dates(sentence, today)
    for mention in facts.dates(sentence, today=today):
        if mention.iso:
            day = date.fromisoformat(mention.iso)
            if day > today and mention.key.startswith("--"):  # "March 28" said in March means last year's?
                day = day.replace(year=day.year - 1)
            if day <= today:
                found.append(day)
    return found


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
    """``"1,200.00 USD"``: the kernel's Money formatting (the currency's own minor units)."""
    try:
        return Money.of(amount, currency).format()
    except MoneyError:  # a currency the customer named that ISO 4217 does not know: show it as written
        return f"{amount:,.2f} {currency}"


# The refund policy as one readable list of checks, each adding a line and a flag; splitting hides the policy.
def recommend(  # noqa: C901
    *,
    ask: RefundAsk,
    today: date,
    prior_refunds: int,
    injection: list[str],
    window_days: int,
    limit: Decimal,
    max_prior: int,
    order_known: bool | None = None,
) -> Recommendation:
    """Apply the refund policy: order age ≤ ``window_days``, amount ≤ ``limit``, fewer than
    ``max_prior`` refunds in 12 months. Injection attempts always escalate.

    ``order_known`` is whether the CRM has a record of the order the customer names (None: not
    checked). Money asked back for an order nobody can find is high risk and a person's call.
    """
    lines: list[str] = []
    flags: list[dict[str, str]] = []
    escalate = deny = False
    if order_known is False:
        escalate = True
        what = f"Order {ask.order_ref}" if ask.order_ref else "The order"
        lines.append(f"{what}: not on record in the CRM — check that it exists before approving. ✗")
        flags.append(
            _flag(
                "refund_order_unknown",
                f"{what} is not on record in the CRM: the refund asked for "
                f"{'(no amount named)' if ask.amount is None else money(ask.amount, ask.currency)} cannot be "
                "matched to a purchase. Check the order before approving.",
                ask.order_ref,
                "high",
            )
        )
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
    if ask.order_ref and order_known is not False:
        lines.insert(0, f"Order: {ask.order_ref}{' (on record)' if order_known else ''}.")
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

"""Guards on generated text: commitments must come from the sources, not from the model.

A draft may only state a money amount, percentage, discount, date or link that appears
in its grounding sources (knowledge articles, approved replies, the caller's policy lines).
A refund promise needs more: an authorisation in the *policy* lines the caller passes
(e.g. ``"Refund of $42.00 approved by J. Doe"``), because an article saying refunds exist
does not mean this customer gets one. Profanity and insults are flagged too.

Every problem becomes a flag with the offending span; the engine raises the run's risk
from the flags (:func:`risk_floor`), so approvals can route them to the right person.
Customer text is deliberately *not* a grounding source: a customer writing "$5,000 refund"
must not make "$5,000" look grounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.risk import LEXICON, flag, max_risk, profanity_flags

DISCOUNT_RE = re.compile(
    r"\b(?:discount(?:ed|s)?|coupon(?: code)?s?|promo(?:tional)? codes?|voucher|store credit|"
    r"free (?:shipping|delivery|upgrade|month|months|gift|replacement|returns?)|complimentary|"
    r"waive[ds]?|on the house|price match(?:ing)?|\d+(?:\.\d+)?\s?% off|half price)\b",
    re.IGNORECASE,
)
REFUND_PROMISE_RE = re.compile(
    r"\b(?:we|i)(?:'ll| will| have| 've|'ve| am| are|'m|'re)?(?: gone ahead and| now| just| already)?\s+"
    r"(?:issu|process|approv|authori[sz]|send|refund|credit)(?:e|ed|ing|s)?\b[^.!?\n]{0,40}?\brefund"
    r"|\b(?:we|i)(?:'ll| will| have|'ve| can| shall)?\s+refund(?:ed)?\b"
    r"|\b(?:your|a|full) refund (?:has been|was|is being|will be|is) (?:approved|issued|processed|sent|on its way)"
    r"|\byou(?:'ll| will) (?:receive|get|be getting) (?:a |your |the |an? )?(?:full )?refund\b"
    r"|\b(?:money|refund) (?:back )?(?:guaranteed|is guaranteed)\b",
    re.IGNORECASE,
)
REFUND_AUTHORISED_RE = re.compile(
    r"\brefund\w*\b(?:[^.\n]|\.(?=\d)){0,60}\b(?:approved|authori[sz]ed)\b"
    r"|\b(?:approved|authori[sz]ed)\b(?:[^.\n]|\.(?=\d)){0,60}\brefund",
    re.IGNORECASE,
)
_DISCOUNT_AFTER = re.compile(r"^\W{0,3}(?:off|discount)", re.IGNORECASE)
_DISCOUNT_BEFORE = re.compile(r"(?:discount|save|saving|extra)\W{0,3}(?:of\s)?$", re.IGNORECASE)

#: The least risk a run carries when it has a flag of this code (others: medium if severity >= medium).
RISK_FLOOR = {
    "refund_promise": "high",
    "ungrounded_amount": "high",
    "ungrounded_discount": "high",
    "ai_failed": "high",
    **{entry.code: entry.risk for entry in LEXICON},
}


def risk_floor(flags: Iterable[dict[str, str]]) -> str:
    level = "low"
    for item in flags:
        floor = RISK_FLOOR.get(item["code"])
        if floor is None:
            floor = "medium" if item.get("severity") in {"medium", "high"} else "low"
        level = max_risk(level, floor)
    return level


@dataclass
class Grounding:
    """What the sources allow a generated text to state."""

    amounts: set[Decimal] = field(default_factory=set)
    percents: set[Decimal] = field(default_factory=set)
    date_keys: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    discounts: set[str] = field(default_factory=set)
    refund_authorised: bool = False

    @classmethod
    def build(cls, sources: Sequence[str], policy: Sequence[str] = ()) -> Grounding:
        grounding = cls()
        for text in [*sources, *policy]:
            grounding.amounts.update(m.value for m in facts.money(text))
            grounding.percents.update(value for _, value in facts.percentages(text))
            for mention in facts.dates(text):
                grounding.date_keys.update(facts.date_keys(mention))
            grounding.urls.update(facts.normalise_url(u) for u in facts.urls(text))
            grounding.discounts.update(_discount_key(m.group(0)) for m in DISCOUNT_RE.finditer(text))
        grounding.refund_authorised = any(REFUND_AUTHORISED_RE.search(p) for p in policy)
        return grounding


def _discount_key(phrase: str) -> str:
    phrase = phrase.lower()
    if "%" in phrase or "half price" in phrase:
        return phrase.replace(" ", "")
    for root in ("discount", "coupon", "promo", "voucher", "credit", "waive", "price match", "complimentary"):
        if root in phrase:
            return root
    return " ".join(phrase.split())


def check_text(text: str, grounding: Grounding, *, who: str = "The draft") -> list[dict[str, str]]:
    """Flags for one generated text."""
    found: list[dict[str, str]] = []
    for amount in facts.money(text):
        if amount.value not in grounding.amounts:
            found.append(
                flag(
                    "ungrounded_amount",
                    f"{who} states the amount {amount.text}, which is not in the knowledge, approved replies "
                    "or policy.",
                    amount.text,
                    "high",
                )
            )
    for span, value in facts.percentages(text):
        if value in grounding.percents:
            continue
        start = text.find(span)
        before, after = text[max(0, start - 16) : start], text[start + len(span) : start + len(span) + 12]
        is_discount = bool(_DISCOUNT_AFTER.search(after) or _DISCOUNT_BEFORE.search(before))
        found.append(
            flag(
                "ungrounded_discount" if is_discount else "ungrounded_amount",
                f"{who} states {span}, which is not in the knowledge, approved replies or policy.",
                span,
                "high" if is_discount else "medium",
            )
        )
    for m in DISCOUNT_RE.finditer(text):
        if _discount_key(m.group(0)) not in grounding.discounts and "%" not in m.group(0):
            found.append(
                flag(
                    "ungrounded_discount",
                    f"{who} offers “{m.group(0)}”, which no knowledge article or policy offers.",
                    m.group(0),
                    "high",
                )
            )
    if not grounding.refund_authorised:
        for m in REFUND_PROMISE_RE.finditer(text):
            found.append(
                flag(
                    "refund_promise",
                    f"{who} promises a refund, but no approved refund was passed in the policy.",
                    m.group(0),
                    "high",
                )
            )
    for mention in facts.dates(text):
        if not facts.date_keys(mention) & grounding.date_keys:
            found.append(
                flag(
                    "ungrounded_date",
                    f"{who} mentions the date or deadline “{mention.text}”, which the sources do not give.",
                    mention.text,
                    "medium",
                )
            )
    for url in facts.urls(text):
        if facts.normalise_url(url) not in grounding.urls:
            found.append(
                flag(
                    "ungrounded_link",
                    f"{who} links to {url}, which does not appear in the knowledge, approved replies or policy.",
                    url,
                    "medium",
                )
            )
    found.extend(profanity_flags(text, who=who))
    return found


def check(
    texts: Iterable[str], *, sources: Sequence[str], policy: Sequence[str] = (), who: str = "The draft"
) -> list[dict[str, str]]:
    """Flags for every generated text, de-duplicated by (code, span)."""
    grounding = Grounding.build(sources, policy)
    return dedupe(flag_ for text in texts if text for flag_ in check_text(text, grounding, who=who))


def dedupe(flags: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for item in flags:
        seen.setdefault((item["code"], item["span"].lower()), item)
    return list(seen.values())

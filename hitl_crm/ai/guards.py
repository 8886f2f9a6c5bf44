"""Guards on generated text: commitments must come from the sources, not from the model.

A draft may only state a money amount (in figures or in words: "twenty dollars", "fifteen
percent"), a percentage, a discount or voucher code, something given away ("free of charge",
"we'll cover the return shipping"), a price claim ("our lowest price"), a date or a link that
appears in its grounding sources: knowledge articles and the caller's policy lines. Approved
replies and history are *not* grounding — they were written to other people.
A refund — done or promised, in any tense ("I've gone ahead and refunded", "you'll get your
money back", "we have reversed the charge") — needs more: an authorisation in the *policy* lines
(e.g. ``"Refund of $42.00 approved by J. Doe"``), because an article saying refunds exist does
not mean this customer gets one. Requests for card numbers, security codes or passwords are
always flagged, as are profanity and insults. Given the record in hand (``known``), e-mail
addresses and names of *other* CRM contacts, and a greeting to someone else, are flagged too.

Every problem becomes a flag with the offending span; the engine raises the run's risk
from the flags (:func:`risk_floor`), so approvals can route them to the right person.
Customer text is deliberately *not* a grounding source: a customer writing "$5,000 refund"
must not make "$5,000" look grounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hitl_crm.ai.conf import app_settings
from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.risk import LEXICON, flag, max_risk, profanity_flags
from hitl_crm.ai.trust import EMAIL_RE

DISCOUNT_RE = re.compile(
    r"\b(?:discount(?:ed|s)?|coupon(?: code)?s?|promo(?:tional)? codes?|vouchers?|store credit|gift cards?|"
    r"price match(?:ing)?|\d+(?:\.\d+)?\s?% off|half[- ]price|half off|(?:buy one|bogo),? get one)\b",
    re.IGNORECASE,
)
#: Goods or services given away: grounded only by the same kind of offer in knowledge or policy.
FREE_RE = re.compile(
    r"\bfree (?:of charge|replacements?|shipping|delivery|postage|upgrades?|gifts?|returns?|repairs?|months?|"
    r"trial|extension|accessor(?:y|ies)|exchanges?|service|installation|labels?)\b"
    r"|\b(?:at|for) no (?:extra |additional )?(?:cost|charge)\b|\bno (?:extra |additional )?charge\b"
    r"|\bfor free\b|\bon the house\b|\b(?:it'?s|this is|that'?s|they'?re|is|are) on us\b|\bcomplimentary\b"
    r"|\b(?:we|i)(?:'ll| will| can| would| are happy to| am happy to|'re happy to|'m happy to)? "
    r"(?:cover|pay for|absorb|"
    r"take care of) (?:the |your |all )?(?:cost|costs|return shipping|shipping|postage|fees?|charges?|delivery|"
    r"repair|return)\b"
    r"|\b(?:waive[ds]?|waiving) (?:the |your |any |all )?(?:\w+ )?(?:fees?|charges?|costs?|shipping)\b"
    r"|\b(?:fees?|charges?|costs?|shipping|postage) (?:is|are|has been|have been|will be|was|were) (?:\w+ )?waived\b"
    r"|\byou (?:won'?t|will not|shan'?t|don'?t|do not|will never) (?:be charged|have to pay|need to pay|pay)\b"
    r"|\bprepaid (?:return )?(?:shipping )?labels?\b|\bat our (?:cost|expense)\b",
    re.IGNORECASE,
)
_AUX = r"(?:'ve|'ll|'d|'m|'re| have| has| had| will| would| shall| am| are| did)?"
_ADVERBS = r"(?: gone ahead and| now| just| already| also| personally| happily| immediately| quickly)*"
REFUND_PROMISE_RE = re.compile(
    rf"\b(?:we|i){_AUX}{_ADVERBS}\s+(?:issu|process|approv|authori[sz]|send|sent|arrang|initiat|grant|put through)"
    r"(?:e|ed|ing|s)?\b[^.!?\n]{0,40}?\b(?:refund|reimbursement|credit (?:note|to your))"
    rf"|\b(?:we|i){_AUX}{_ADVERBS}\s+(?:refund(?:ed|ing)?|reimburs(?:e|ed|ing)|revers(?:e|ed|ing)|"
    r"void(?:ed)?|credit(?:ed|ing)?|cancel(?:l?ed|l?ing)? (?:the|your|that) (?:charge|payment)|"
    r"return(?:ed|ing)? (?:the|your) (?:money|payment|funds))\b"
    r"|\b(?:your|a|the|full|partial|this)\s+(?:full |partial |complete )?refund(?: of (?:[^.!?\n]|\.(?=\d)){1,20}?)?\s+"
    r"(?:has been|have been|was|were|is being|will be|is|'s been|got|has|is now)\s+(?:now |just |already )?"
    r"(?:approved|issued|processed|sent|initiated|completed|granted|made|on (?:its|the) way|authori[sz]ed|"
    r"arranged|paid|released|confirmed|gone through)"
    r"|\byou(?:'ll|'re going to| will| are going to| should| shall)\s+(?:receive|get|be getting|see|have)\s+"
    r"(?:a |your |the |an |all |every penny of |every cent of )?(?:full |partial )?(?:refund|money back|"
    r"reimbursement|payment back|money returned)"
    r"|\byou(?:'ll|'ve| will| have| are| were|'re)?\s+(?:be |been |being )?(?:fully |now )?"
    r"(?:refunded|reimbursed|compensated)\b"
    r"|\b(?:the |your )?(?:money|funds|payment|charge|amount|purchase price)\s+(?:has been|have been|was|will be|"
    r"is being|is going to be)\s+(?:fully )?(?:refunded|returned|reversed|credited|sent back|reimbursed|voided)\b"
    r"|\b(?:the |your )?(?:money|funds|amount) (?:will be|is|should be) back\b"
    rf"|\b(?:we|i){_AUX}{_ADVERBS}\s+(?:appl(?:y|ied|ying)|add(?:ed|ing)?|issu(?:e|ed|ing)|put|given?|gave)\s+"
    r"(?:you )?(?:a |an |the )?(?:\w+ )?credit (?:to|on|of)\b"
    r"|\b(?:your )?(?:account|card|balance) (?:has been|have been|was|will be|is being) (?:re-?)?credited\b"
    r"|\b(?:money|refund) (?:back )?(?:guaranteed|is guaranteed)\b|\bmoney[- ]back guarantee\b",
    re.IGNORECASE,
)
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_NUMBER_WORDS = {
    **{w: i for i, w in enumerate(_UNITS.split())},  # noqa: SIM905 (a sentence of words reads better)
    **{w: 10 * (i + 2) for i, w in enumerate(_TENS.split())},  # noqa: SIM905
}
_NW = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
WORD_AMOUNT_RE = re.compile(
    rf"\b(?P<n>(?:a |one )?(?:(?:{_NW})(?:[- ](?:{_NW}))?|a)"
    rf"(?: (?:hundred|thousand)(?: and (?:{_NW})(?:[- ](?:{_NW}))?)?)?)"
    r"\s+(?P<unit>percent|per cent|%|dollars?|bucks|euros?|pounds?|quid|cents?|pence)\b"
    r"|\b(?P<half>half) (?:of )?(?:the |your )?(?:price|cost|amount|purchase price)\b",
    re.IGNORECASE,
)
PRICE_CLAIM_RE = re.compile(
    r"\b(?:lowest|best|cheapest|guaranteed|locked[- ]in|special|reduced|introductory|promotional|"
    r"exclusive|loyalty|member|sale|discounted) (?:possible )?(?:price|rate|pricing)\b"
    r"|\bprices? (?:will|is going to|are going to|won'?t|will not|would|should) (?:drop|go down|go up|increase|"
    r"decrease|change|stay|fall|rise|be (?:lower|reduced|the same))\b"
    r"|\bprices? (?:is|are|will be|has been|have been) (?:locked|guaranteed|frozen|reduced|lowered|matched)\b"
    r"|\b(?:cheaper|less expensive|lower priced) than\b|\bcosts? (?:only|just|less than|no more than)\b"
    r"|\b(?:only|just) costs?\b|\bprice guarantee\b|\bbeat any price\b"
    r"|\bwe(?:'ll| will)? match (?:the|that|any) price\b",
    re.IGNORECASE,
)
CREDENTIAL_RE = re.compile(
    r"\b(?:send|give|provide|share|reply with|tell|confirm|email|write|let (?:me|us) (?:know|have)|include|"
    r"read out|verify|need|require|what(?:'s| is))\b(?P<between>[^.?!\n]{0,40}?)\b(?:(?:full|complete|long) )?"
    r"(?:(?:credit |debit |bank )?card (?:number|details|no\.?|digits)|credit card|cvv2?|cvc2?|cid|"
    r"security code|passwords?|passcodes?|pins?(?: code| number)?|one-time (?:code|password)|otp|2fa code|"
    r"verification code|(?:online )?banking (?:login|password|details)|login details|log-in details|"
    r"social security number|ssn|national insurance number|sort code and account number|"
    r"(?:digits|numbers?|code) on the back of (?:your|the) card|expiry date and (?:the )?(?:cvv|security code))\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"\b(?:never|not|n't|no one|nobody|won't|don't|doesn't)\b", re.IGNORECASE)
CODE_NEAR_RE = re.compile(
    r"\b(?<!tracking )(?<!order )(?<!reference )(?<!postal )(?<!zip )(?<!error )(?<!product )"
    r"(?:code|coupon|voucher|promo(?:tion)?|gift card)\b",
    re.IGNORECASE,
)
CODE_TOKEN_RE = re.compile(r"\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}[A-Z0-9]\b")
REFUND_AUTHORISED_RE = re.compile(
    r"\brefund\w*\b(?:[^.\n]|\.(?=\d)){0,60}\b(?:approved|authori[sz]ed)\b"
    r"|\b(?:approved|authori[sz]ed)\b(?:[^.\n]|\.(?=\d)){0,60}\brefund",
    re.IGNORECASE,
)
_DISCOUNT_AFTER = re.compile(r"^\W{0,3}(?:off|discount)", re.IGNORECASE)
_DISCOUNT_BEFORE = re.compile(r"(?:discount|save|saving|extra)\W{0,3}(?:of\s)?$", re.IGNORECASE)

#: Codes that mark a commitment (money, goods, promises): never grounded by customer text, and the
#: autopilot never approves a request carrying one.
COMMITMENT_CODES = frozenset(
    {
        "refund_promise",
        "ungrounded_amount",
        "ungrounded_discount",
        "ungrounded_free",
        "ungrounded_price",
        "ungrounded_code",
        "ungrounded_date",
        "ungrounded_link",
        "exemplar_commitment",
    }
)
#: Codes that mean someone's personal data or credentials are at stake.
PERSONAL_DATA_CODES = frozenset({"credential_request", "other_contact_data", "wrong_recipient"})

#: Skills whose text goes to the record in hand: other contacts' names and e-mails are checked there.
ADDRESSED_SKILLS = frozenset({"draft_reply", "draft_followup"})

#: The least risk a run carries when it has a flag of this code (others: medium if severity >= medium).
RISK_FLOOR = {
    "refund_promise": "high",
    "ungrounded_amount": "high",
    "ungrounded_discount": "high",
    "ungrounded_free": "high",
    "ungrounded_price": "high",
    "ungrounded_code": "high",
    "exemplar_commitment": "high",
    "credential_request": "high",
    "other_contact_data": "high",
    "wrong_recipient": "high",
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


def word_number(phrase: str) -> Decimal | None:
    """ "fifteen" → 15, "twenty-five" → 25, "a hundred and fifty" → 150, "two thousand" → 2000."""
    total, current = 0, 0
    seen = False
    for word in re.split(r"[\s-]+", phrase.lower().strip()):
        if word in {"a", "one"} and not seen:
            current, seen = 1, True
        elif word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            seen = True
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        elif word != "and":
            return None
    return Decimal(total + current) if seen or total else None


def word_amounts(text: str) -> list[tuple[str, str, Decimal]]:
    """Amounts and percentages written in words: (span, "percent" | "money", value)."""
    found: list[tuple[str, str, Decimal]] = []
    for m in WORD_AMOUNT_RE.finditer(text):
        if m.group("half"):
            found.append((m.group(0), "percent", Decimal(50)))
            continue
        value = word_number(m.group("n"))
        if value is None:
            continue
        unit = m.group("unit").lower()
        if unit in {"cent", "cents", "pence"}:
            value = value / 100
        found.append((m.group(0), "percent" if unit in {"percent", "per cent", "%"} else "money", value.normalize()))
    return found


def _free_key(phrase: str) -> str:
    phrase = phrase.lower()
    for key, roots in (
        ("returns", ("return",)),
        ("shipping", ("shipping", "delivery", "postage", "label")),
        ("replacement", ("replacement", "exchange")),
        ("repair", ("repair",)),
        ("upgrade", ("upgrade",)),
        ("gift", ("gift", "accessor")),
        ("months", ("month", "trial", "extension")),
        ("fees", ("fee", "charge", "cost")),
    ):
        if any(root in phrase for root in roots) and not phrase.startswith(("free of charge", "at no", "for no")):
            return key
    return "free"


def _price_key(phrase: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", phrase.lower()).split())


def _codes(text: str) -> list[str]:
    """Voucher-like codes ("SORRY15", "WELCOME-10") within a few words of "code", "coupon", "voucher" …"""
    found: list[str] = []
    for near in CODE_NEAR_RE.finditer(text):
        window = text[max(0, near.start() - 30) : near.end() + 30]
        found += [c for c in CODE_TOKEN_RE.findall(window) if c not in found]
    return found


@dataclass
class Grounding:
    """What the sources allow a generated text to state."""

    amounts: set[Decimal] = field(default_factory=set)
    percents: set[Decimal] = field(default_factory=set)
    date_keys: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    discounts: set[str] = field(default_factory=set)
    free: set[str] = field(default_factory=set)
    prices: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    refund_authorised: bool = False

    @classmethod
    def build(cls, sources: Sequence[str], policy: Sequence[str] = ()) -> Grounding:
        grounding = cls()
        for text in [*sources, *policy]:
            grounding.amounts.update(m.value for m in facts.money(text))
            grounding.percents.update(value for _, value in facts.percentages(text))
            for _span, kind, value in word_amounts(text):
                (grounding.percents if kind == "percent" else grounding.amounts).add(value)
            for mention in facts.dates(text):
                grounding.date_keys.update(facts.date_keys(mention))
            grounding.urls.update(facts.normalise_url(u) for u in facts.urls(text))
            grounding.discounts.update(_discount_key(m.group(0)) for m in DISCOUNT_RE.finditer(text))
            grounding.free.update(_free_key(m.group(0)) for m in FREE_RE.finditer(text))
            grounding.prices.update(_price_key(m.group(0)) for m in PRICE_CLAIM_RE.finditer(text))
            grounding.codes.update(c.upper() for c in _codes(text))
            grounding.codes.update(c.upper() for c in CODE_TOKEN_RE.findall(text))
            grounding.emails.update(e.lower() for e in EMAIL_RE.findall(text))
        grounding.refund_authorised = any(REFUND_AUTHORISED_RE.search(p) for p in policy)
        return grounding


_OFFER_NEGATED_BEFORE = re.compile(
    r"\b(?:not|cannot|can'?t|won'?t|don'?t|doesn'?t|never|no longer|unable to|isn'?t|aren'?t)\b[^.!?\n]{0,30}$",
    re.IGNORECASE,
)
_OFFER_NEGATED_AFTER = re.compile(
    r"^\s+(?:is|are|was|were)\s+(?:not|no longer)\b|^\s+(?:isn'?t|aren'?t)\b", re.IGNORECASE
)


def _offer_negated(text: str, start: int, end: int) -> bool:
    """ "We can't offer a discount", "Free returns are not available": an offer refused is no offer.
    Only for offers (discounts, free goods, price claims): amounts and refunds are flagged regardless."""
    return bool(_OFFER_NEGATED_BEFORE.search(text[max(0, start - 40) : start])) or bool(
        _OFFER_NEGATED_AFTER.match(text[end : end + 30])
    )


def _discount_key(phrase: str) -> str:
    phrase = phrase.lower()
    if "%" in phrase or "half" in phrase:
        return phrase.replace(" ", "").replace("-", "")
    for root in ("discount", "coupon", "promo", "voucher", "credit", "gift card", "price match", "buy one", "bogo"):
        if root in phrase:
            return root
    return " ".join(phrase.split())


# Complexity 26 (above radon C): one guard per kind of commitment, each a short branch over the
# same sentence loop; a table of guards would hide which spans each one flags.
def check_text(text: str, grounding: Grounding, *, who: str = "The draft") -> list[dict[str, str]]:
    """Flags for one generated text."""
    found: list[dict[str, str]] = []
    sources = "knowledge or policy"
    for amount in facts.money(text):
        if amount.value not in grounding.amounts:
            found.append(
                flag(
                    "ungrounded_amount",
                    f"{who} states the amount {amount.text}, which is not in the {sources}.",
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
                f"{who} states {span}, which is not in the {sources}.",
                span,
                "high",
            )
        )
    for span, kind, value in word_amounts(text):
        if value in (grounding.percents if kind == "percent" else grounding.amounts):
            continue
        found.append(
            flag(
                "ungrounded_amount",
                f"{who} states “{span}” in words, which is not in the {sources}.",
                span,
                "high",
            )
        )
    for m in DISCOUNT_RE.finditer(text):
        if _offer_negated(text, m.start(), m.end()):
            continue
        if _discount_key(m.group(0)) not in grounding.discounts and "%" not in m.group(0):
            found.append(
                flag(
                    "ungrounded_discount",
                    f"{who} offers “{m.group(0)}”, which no knowledge article or policy offers.",
                    m.group(0),
                    "high",
                )
            )
    for m in FREE_RE.finditer(text):
        if _offer_negated(text, m.start(), m.end()) and not m.group(0).lower().startswith("you"):
            continue
        if _free_key(m.group(0)) not in grounding.free:
            found.append(
                flag(
                    "ungrounded_free",
                    f"{who} gives something away (“{m.group(0)}”), which no knowledge article or policy offers.",
                    m.group(0),
                    "high",
                )
            )
    for m in PRICE_CLAIM_RE.finditer(text):
        if _offer_negated(text, m.start(), m.end()):
            continue
        if _price_key(m.group(0)) not in grounding.prices:
            found.append(
                flag(
                    "ungrounded_price",
                    f"{who} makes a price claim (“{m.group(0)}”) that the {sources} do not make.",
                    m.group(0),
                    "high",
                )
            )
    for code in _codes(text):
        if code.upper() not in grounding.codes:
            found.append(
                flag(
                    "ungrounded_code",
                    f"{who} gives the code {code}, which no knowledge article or policy gives.",
                    code,
                    "high",
                )
            )
    if not grounding.refund_authorised:
        for m in REFUND_PROMISE_RE.finditer(text):
            found.append(
                flag(
                    "refund_promise",
                    f"{who} says a refund is done or promised, but no approved refund was passed in the policy.",
                    m.group(0),
                    "high",
                )
            )
    for m in CREDENTIAL_RE.finditer(text):
        sentence_start = max(text.rfind(".", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
        if _NEGATION_RE.search(text[sentence_start : m.start()] + m.group("between")):
            continue  # "we will never ask for your password"
        found.append(
            flag(
                "credential_request",
                f"{who} asks for a card number, security code or password; we never ask for these by email.",
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
                    f"{who} links to {url}, which does not appear in the knowledge or policy.",
                    url,
                    "medium",
                )
            )
    found.extend(profanity_flags(text, who=who))
    return found


#: Commitment codes about money or goods (dates and links are checked against the sources only).
MONEY_CODES = frozenset(
    {
        "refund_promise",
        "ungrounded_amount",
        "ungrounded_discount",
        "ungrounded_free",
        "ungrounded_price",
        "ungrounded_code",
    }
)


def commitment_spans(text: str) -> list[str]:
    """Every money or commitment span in ``text`` whatever the sources say: amounts (in figures or
    words), percentages, discounts, codes, free goods, price claims and refunds done or promised."""
    if not text:
        return []
    return [f["span"] for f in check_text(text, Grounding()) if f["code"] in MONEY_CODES]


# --- other people's data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A CRM contact as the guards see it."""

    name: str
    email: str


#: Looks up CRM contacts by the emails and (first, last) name pairs a text mentions.
Directory = Callable[[set[str], set[tuple[str, str]]], list[Person]]

_FULL_NAME_RE = re.compile(r"\b([A-Z][a-z'’-]+)\s+([A-Z][a-z'’-]+(?:-[A-Z][a-z]+)?)\b")
_GREETING_NAME_RE = re.compile(r"^\s*(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening))\s+([A-Z][\w'’-]+)\b")


_NOT_NAMES = frozenset(
    {"there", "team", "all", "everyone", "friend", "friends", "folks", "customer", "sir", "madam", "again", "and"}
)


def crm_directory(emails: set[str], names: set[tuple[str, str]]) -> list[Person]:
    """The default :data:`Directory`: the contact model named by ``HITL_CRM_AI_CONTACT_MODEL``."""
    from django.apps import apps
    from django.db.models import Q

    if not emails and not names:
        return []
    try:
        model = apps.get_model(app_settings.CONTACT_MODEL)
    except (LookupError, ValueError):
        return []
    query = Q()
    for email in emails:
        query |= Q(email__iexact=email)
    for first, last in names:
        query |= Q(first_name__iexact=first, last_name__iexact=last)
    rows = model._default_manager.filter(query).values_list("first_name", "last_name", "email")[:50]
    return [Person(f"{first} {last}".strip(), email or "") for first, last, email in rows]


def people_flags(
    text: str,
    *,
    known: dict[str, Any],
    grounding: Grounding,
    directory: Directory | None = None,
    who: str = "The draft",
) -> list[dict[str, str]]:
    """Flags for e-mail addresses and names in ``text`` that belong to someone other than the
    record in hand (``known``: its names, emails and phones): another contact's data must never
    reach this customer, and a greeting must address this customer."""
    known_emails = {e.lower() for e in _as_list(known.get("emails"))}
    known_names = [n for n in _as_list(known.get("names")) if n.strip()]
    known_parts = {part.lower() for name in known_names for part in name.split()}
    found: list[dict[str, str]] = []
    emails = {e.lower() for e in EMAIL_RE.findall(text)} - known_emails
    names = {
        (first, last) for first, last in _FULL_NAME_RE.findall(text) if not {first.lower(), last.lower()} <= known_parts
    }
    lookup = directory or crm_directory
    others = [p for p in lookup(emails, names) if p.email.lower() not in known_emails] if emails or names else []
    for person in others:
        if person.email and person.email.lower() in emails:
            found.append(
                flag(
                    "other_contact_data",
                    f"{who} contains the e-mail address of another contact ({person.name or person.email}).",
                    person.email,
                    "high",
                )
            )
        named = person.name and re.search(rf"(?<!\w){re.escape(person.name)}(?!\w)", text, re.IGNORECASE)
        if named and person.name.lower() not in {n.lower() for n in known_names}:
            found.append(
                flag("other_contact_data", f"{who} names another contact, {person.name}.", person.name, "high")
            )
    flagged = {f["span"].lower() for f in found}
    for email in sorted(emails - grounding.emails - flagged):
        found.append(
            flag(
                "other_contact_data",
                f"{who} contains the e-mail address {email}, which is neither this customer's nor in the sources.",
                email,
                "high",
            )
        )
    greeting = _GREETING_NAME_RE.match(text)
    greeted = greeting.group(1) if greeting else ""
    salutation = greeted.lower()
    if salutation and known_parts and salutation not in known_parts and salutation not in _NOT_NAMES:
        found.append(
            flag(
                "wrong_recipient",
                f"{who} greets “{greeted}”, but the customer is {known_names[0]}.",
                greeted,
                "high",
            )
        )
    return found


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def check(
    texts: Iterable[str],
    *,
    sources: Sequence[str],
    policy: Sequence[str] = (),
    who: str = "The draft",
    known: dict[str, Any] | None = None,
    directory: Directory | None = None,
) -> list[dict[str, str]]:
    """Flags for every generated text, de-duplicated by (code, span).

    ``known`` is the record in hand (names, emails, phones). When it is given, e-mail addresses
    and names of *other* contacts (``directory``, by default the CRM's contacts) are flagged too."""
    grounding = Grounding.build(sources, policy)
    found: list[dict[str, str]] = []
    for text in texts:
        if not text:
            continue
        found += check_text(text, grounding, who=who)
        if known is not None:
            found += people_flags(text, known=known, grounding=grounding, directory=directory, who=who)
    return dedupe(found)


def dedupe(flags: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for item in flags:
        seen.setdefault((item["code"], item["span"].lower()), item)
    return list(seen.values())

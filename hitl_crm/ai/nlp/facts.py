"""Regex extraction of the facts people act on: order ids, money, percentages, dates, links, products.

The same extractors serve summaries (facts to show), guards (commitments to check against
the sources) and action items (due dates). Everything is plain ``re``; no model, no download.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_CODES = "USD|EUR|GBP|CAD|AUD|JPY|CHF|SEK|NOK|DKK|INR|BRL|MXN"
_WORDS = r"dollars?|bucks|euros?|pounds?|quid"
MONEY_RE = re.compile(
    rf"(?P<sym>[$€£¥])\s?(?P<n1>{_NUM})(?P<m1>\s?(?:k|K|million|m)\b)?"
    rf"|\b(?P<code1>{_CODES})\s?(?P<n2>{_NUM})\b"
    rf"|\b(?P<n3>{_NUM})\s?(?P<code2>{_CODES}|{_WORDS})\b",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(r"\b(?P<n>\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)", re.IGNORECASE)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY_WORDS = {"dollar": "USD", "buck": "USD", "euro": "EUR", "pound": "GBP", "quid": "GBP"}

ORDER_RES = (
    re.compile(r"#\s?(?P<id>[A-Z0-9-]*\d[A-Z0-9-]{2,})", re.IGNORECASE),
    re.compile(r"\b(?P<id>(?:ORD|ORDER|PO|INV|SO|RMA)[-_#]?\d[\d-]{2,}\d)\b", re.IGNORECASE),
    re.compile(
        r"\b(?:order|purchase|invoice)\s*(?:number|no\.?|num|id|ref(?:erence)?)?\s*(?:is\s*)?[:#]?\s*"
        r"(?P<id>[A-Z]{0,4}-?\d{4,}[A-Z0-9-]*)",
        re.IGNORECASE,
    ),
    # "The tracking for NW-21077 …": the shop's own order-number shape, capitals then digits.
    re.compile(r"\b(?P<id>[A-Z]{2,4}-\d{4,})\b"),
)

MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DATE_RE = re.compile(
    r"\b(?P<iso>\d{4}-\d{2}-\d{2})\b"
    r"|\b(?P<num>\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))\b"
    rf"|\b(?P<md>{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)\b"
    rf"|\b(?P<dm>\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?)\b"
    r"|\b(?P<rel>today|tonight|tomorrow|yesterday|"
    r"(?:next|this|coming)\s+(?:week|month|"
    + "|".join(_WEEKDAYS)
    + r")|"
    + "|".join(_WEEKDAYS)
    + r"|within\s+(?:\d+|an?|one|two|three|four|five|seven|ten)\s+(?:business\s+|working\s+)?(?:days?|hours?|weeks?)|"
    r"in\s+\d+\s+(?:business\s+|working\s+)?(?:days?|weeks?)|"
    r"end\s+of\s+(?:the\s+)?(?:day|week|month)|EOD|EOW|asap)\b",
    re.IGNORECASE,
)
URL_RE = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|(?<![@\w.-])\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|shop|store|example|info|biz|app|us|uk|de)"
    r"(?:/[^\s<>\"')\]]*)?\b",
    re.IGNORECASE,
)
_PRODUCT_RE = re.compile(
    r"\b(?:the|my|our|your|a|an|new)\s+((?:[A-Z][\w'-]*)(?:\s+(?:[A-Z][\w'-]*|\d+[A-Za-z]*)){0,3})"
)
_NOT_PRODUCTS = frozenset(
    {
        "I",
        "We",
        "You",
        "It",
        "The",
        "This",
        "That",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Customer",
        "Agent",
        "Support",
        "Team",
    }
    | {
        m.capitalize()
        for m in (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    }
)


@dataclass(frozen=True)
class Money:
    text: str
    value: Decimal
    currency: str

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "value": format(self.value, "f"), "currency": self.currency}


def _decimal(raw: str) -> Decimal | None:
    try:
        return Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None


def money(text: str) -> list[Money]:
    found: list[Money] = []
    for m in MONEY_RE.finditer(text):
        raw_number = m.group("n1") or m.group("n2") or m.group("n3")
        value = _decimal(raw_number)
        if value is None:
            continue
        if m.group("sym"):
            currency = _SYMBOLS[m.group("sym")]
            multiplier = (m.group("m1") or "").strip().lower()
            if multiplier == "k":
                value *= 1000
            elif multiplier in {"m", "million"}:
                value *= 1_000_000
        else:
            code = (m.group("code1") or m.group("code2") or "").lower()
            currency = (
                code.upper()
                if len(code) == 3 and code.upper() in _CODES
                else _CURRENCY_WORDS.get(code.rstrip("s"), code.upper())
            )
        found.append(Money(m.group(0).strip(), value.normalize(), currency))
    return found


def percentages(text: str) -> list[tuple[str, Decimal]]:
    return [(m.group(0), Decimal(m.group("n")).normalize()) for m in PERCENT_RE.finditer(text)]


def order_ids(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for pattern in ORDER_RES:
        for m in pattern.finditer(text):
            ident = m.group("id").upper().strip("-")
            if sum(ch.isdigit() for ch in ident) >= 3:
                seen.setdefault(ident, None)
    return list(seen)


@dataclass(frozen=True)
class DateMention:
    text: str
    key: str  # comparable form: "2026-03-03", "--03-03" (no year) or the normalised relative phrase
    iso: str | None  # resolved calendar date when possible


def _parse_month_day(text: str) -> tuple[int | None, int, int] | None:
    cleaned = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", text.lower().replace(",", " ").replace(".", " "))
    cleaned = cleaned.replace(" of ", " ")
    parts = cleaned.split()
    month = next((MONTHS[p[:3]] for p in parts if p[:3] in MONTHS and not p.isdigit()), None)
    numbers = [int(p) for p in parts if p.isdigit()]
    if month is None or not numbers:
        return None
    day = next((n for n in numbers if n <= 31), None)
    year = next((n for n in numbers if n > 31), None)
    if day is None:
        return None
    return year, month, day


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve_relative(phrase: str, today: date) -> date | None:
    phrase = phrase.lower()
    if phrase in {"today", "tonight", "eod", "asap"} or phrase == "end of the day" or phrase == "end of day":
        return today
    if phrase == "tomorrow":
        return today + timedelta(days=1)
    if phrase == "yesterday":
        return today - timedelta(days=1)
    for index, name in enumerate(_WEEKDAYS):
        if phrase.endswith(name):
            ahead = (index - today.weekday()) % 7 or 7
            if phrase.startswith("next "):
                ahead += 7 if ahead < 7 else 0
            return today + timedelta(days=ahead)
    if phrase in {"eow"} or phrase.endswith("end of the week") or phrase.endswith("end of week"):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if phrase.startswith("next week"):
        return today + timedelta(days=7 - today.weekday())
    return None


def dates(text: str, *, today: date | None = None) -> list[DateMention]:
    """Every date-like mention. Relative phrases resolve against ``today`` when it is given."""
    found: list[DateMention] = []
    for m in DATE_RE.finditer(text):
        raw = m.group(0)
        iso: str | None = None
        key = " ".join(raw.lower().split())
        if m.group("iso"):
            parsed = _safe_date(*map(int, raw.split("-")))
            iso = parsed.isoformat() if parsed else None
            key = iso or key
        elif m.group("num"):
            month, day, year = map(int, raw.split("/"))
            year += 2000 if year < 100 else 0
            parsed = _safe_date(year, month, day)
            iso = parsed.isoformat() if parsed else None
            key = iso or key
        elif m.group("md") or m.group("dm"):
            parts = _parse_month_day(raw)
            if parts:
                given_year, month, day = parts  # no year when the text names none
                if given_year:
                    parsed = _safe_date(given_year, month, day)
                    iso = parsed.isoformat() if parsed else None
                elif today:
                    parsed = _safe_date(today.year, month, day)
                    iso = parsed.isoformat() if parsed else None
                key = f"{given_year:04d}-{month:02d}-{day:02d}" if given_year else f"--{month:02d}-{day:02d}"
        elif today is not None:
            resolved = _resolve_relative(key, today)
            iso = resolved.isoformat() if resolved else None
        found.append(DateMention(raw, key, iso))
    return found


def date_keys(mention: DateMention) -> set[str]:
    """Keys under which a date counts as "the same date" when comparing draft and sources."""
    keys = {mention.key}
    if mention.key[:4].isdigit() and len(mention.key) == 10:
        keys.add("--" + mention.key[5:])  # "2026-03-03" matches a source that says "March 3"
    return keys


def normalise_url(url: str) -> str:
    url = url.lower().rstrip(".,;:!?")
    url = re.sub(r"^https?://", "", url)
    url = re.sub(r"^www\.", "", url)
    return url.rstrip("/")


def urls(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?") for m in URL_RE.finditer(text)]


def products(text: str, known: Sequence[str] | None = None) -> list[str]:
    """Products named in the text: from the caller's catalogue when given, else capitalised
    noun phrases after a determiner ("my Trailblazer 2 tent" -> "Trailblazer 2")."""
    if known:
        lowered = text.lower()
        return [name for name in known if name and re.search(rf"\b{re.escape(name.lower())}\b", lowered)]
    seen: dict[str, None] = {}
    for m in _PRODUCT_RE.finditer(text):
        phrase = m.group(1).strip()
        if phrase.split()[0] in _NOT_PRODUCTS:
            continue
        seen.setdefault(phrase, None)
    return list(seen)


def extract_facts(text: str, *, known_products: Sequence[str] | None = None) -> dict[str, list]:
    """The facts block of a summary."""
    return {
        "order_ids": order_ids(text),
        "amounts": _unique_dicts(m.as_dict() for m in money(text)),
        "dates": _unique([d.text for d in dates(text)]),
        "products": products(text, known_products),
    }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_dicts(items: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for item in items:
        seen.setdefault((item["value"], item["currency"]), item)
    return list(seen.values())

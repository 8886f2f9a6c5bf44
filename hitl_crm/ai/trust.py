"""The trust layer: personal data out before a call leaves the building, back in afterwards.

``redact`` swaps emails, phone numbers, payment card numbers (Luhn-checked), IBANs (mod-97-checked),
national ids (US social security numbers, UK National Insurance numbers) and the names, emails and
phones of the CRM record in hand for stable placeholders (``[EMAIL_1]``, ``[PHONE_1]``, ``[CARD_1]``,
``[IBAN_1]``, ``[ID_1]``, ``[NAME_1]``): the same
value gets the same placeholder everywhere in one call, so the model can still tell that two
mentions are the same person. ``rehydrate`` puts the originals back into the model's answer.

Phones are keyed by their E.164 form and emails case-insensitively, so "(415) 555-0123" and
"+1 415 555 0123" share one placeholder; rehydration writes the first spelling seen.

Phone numbers are found in three passes: ``phonenumbers`` with VALID leniency for the regions that
matter (the contact's own, from the phones on record, then ``HITL_CRM_AI_DEFAULT_REGION``), the same
with POSSIBLE leniency (fictional ranges such as 555 and Ofcom's drama numbers are still personal
data in a message), and a lenient pass over phone-shaped strings (separators or a leading ``+``,
``00``, ``0`` or parenthesis, 7-15 digits) parsed for the common regions. Strings that sit behind an
identifier word ("order", "invoice", "tracking" …), dates, times, prices and card-like digit runs
are never phones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from hitl_crm.ai.conf import app_settings

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD_RE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN_START_RE = re.compile(r"\b[A-Za-z]{2}\d{2}(?=[ ]?[A-Za-z0-9])")
# Issuer identification: Amex/Diners/JCB 3, Visa 4, Mastercard 2/5, Discover/UnionPay/Maestro 6.
# Order numbers starting with 1, 7, 8, 9 or 0 that happen to pass Luhn are left alone.
CARD_FIRST_DIGITS = frozenset("23456")
PLACEHOLDER_RE = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|ID|NAME)_(\d+)\]")
#: US social security number: never area 000, 666 or 9xx, group 00 or serial 0000.
SSN_RE = re.compile(r"(?<![\d-])(?!000|666|9\d\d)(\d{3})([- ])(?!00)(\d{2})\2(?!0000)(\d{4})(?![\d-])")
SSN_LABELLED_RE = re.compile(
    r"\b(?:ssn|social security(?: number| no\.?)?|ss#)\W{0,3}"
    r"(?!000|666|9\d\d)(\d{3})[- ]?(?!00)(\d{2})[- ]?(?!0000)(\d{4})\b",
    re.IGNORECASE,
)
#: UK National Insurance number: two prefix letters (D, F, I, Q, U, V never; O never second; some
#: pairs unused), six digits, suffix A-D; spaces optional.
NINO_RE = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
#: Phone-shaped strings for the lenient pass.
PHONE_SHAPE_RE = re.compile(r"(?<![\w.,/:-])(?:\+|00)?\(?\d[\d().\- ]{5,20}\d(?![\w/:-]|[.,]\d)")
_IDENTIFIER_BEFORE_RE = re.compile(
    r"(?:\b(?:order|purchase|invoice|inv|receipt|tracking|track|ref(?:erence)?|ticket|case|rma|sku|item|part|"
    r"serial|model|account no|po|isbn|ean|upc|batch|lot|id|no\.?|number)|#)\W{0,4}$",
    re.IGNORECASE,
)
_DATE_OR_TIME_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$|^\d{1,2}[.:]\d{2}$")
#: Regions tried by the lenient pass after the contact's and the site's.
LENIENT_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IE", "AU", "CA", "IN", "BR", "MX", "JP", "ZA")

IBAN_LENGTHS = {
    "AD": 24,
    "AT": 20,
    "BE": 16,
    "BG": 22,
    "CH": 21,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "EE": 20,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GR": 27,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IS": 26,
    "IT": 27,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MT": 31,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "RO": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
}


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    compact = compact.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str
    key: str


def _iban_spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    for m in IBAN_START_RE.finditer(text):
        # Walk forward over letters/digits and single spaces, remembering where each character sits.
        positions: list[int] = []
        index = m.start()
        while index < len(text) and len(positions) < 34:
            char = text[index]
            if char.isalnum() and char.isascii():
                positions.append(index)
            elif not (char == " " and index + 1 < len(text) and text[index + 1].isalnum()):
                break
            index += 1
        compact = "".join(text[i] for i in positions).upper()
        lengths = [IBAN_LENGTHS[compact[:2]]] if compact[:2] in IBAN_LENGTHS else range(len(compact), 14, -1)
        for length in lengths:
            if length <= len(compact) and iban_valid(compact[:length]):
                end = positions[length - 1] + 1
                if end == len(text) or not text[end].isalnum():
                    spans.append(_Span(m.start(), end, "IBAN", compact[:length]))
                break
    return spans


def _card_spans(text: str) -> list[_Span]:
    spans = []
    for m in CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and digits[0] in CARD_FIRST_DIGITS and luhn_valid(digits):
            spans.append(_Span(m.start(), m.end(), "CARD", digits))
    return spans


def _id_spans(text: str) -> list[_Span]:
    spans = [_Span(m.start(), m.end(), "ID", "ssn:" + "".join(m.groups()[::2])) for m in SSN_RE.finditer(text)]
    spans += [_Span(m.start(1), m.end(3), "ID", "ssn:" + "".join(m.groups())) for m in SSN_LABELLED_RE.finditer(text)]
    spans += [_Span(m.start(), m.end(), "ID", "nino:" + m.group(0).replace(" ", "")) for m in NINO_RE.finditer(text)]
    return spans


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_spans(text: str, regions: list[str]) -> list[_Span]:
    """Phone numbers for the first matching of ``regions`` (VALID, then POSSIBLE), then the lenient pass."""
    spans: list[_Span] = []
    for leniency in (phonenumbers.Leniency.VALID, phonenumbers.Leniency.POSSIBLE):
        for region in regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
                strict = leniency == phonenumbers.Leniency.VALID
                if not _looks_like_identifier(text, match.start, match.raw_string, strict=strict):
                    spans.append(_Span(match.start, match.end, "PHONE", _e164(match.number)))
    for m in PHONE_SHAPE_RE.finditer(text):
        raw = m.group(0).strip()
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        number = _lenient_phone(raw, regions)
        if number is not None and not _looks_like_identifier(text, start, raw):
            spans.append(_Span(start, start + len(raw), "PHONE", _e164(number)))
    return spans


def _lenient_phone(raw: str, regions: list[str]) -> phonenumbers.PhoneNumber | None:
    digits = re.sub(r"\D", "", raw)
    separated = bool(re.search(r"[\s().-]", raw))
    if not 7 <= len(digits) <= 15 or _DATE_OR_TIME_RE.match(raw):
        return None
    if not (separated or raw.startswith(("+", "00", "0", "("))):
        return None  # a bare run of digits is an order or tracking number until shown otherwise
    if raw.count(".") and not re.fullmatch(r"\(?\d{2,4}\)?(?:\.\d{2,4}){2,3}", raw):
        return None  # "1.249.99", versions
    international = "+" + raw[2:].lstrip() if raw.startswith("00") else raw
    for region in [*regions, *(r for r in LENIENT_REGIONS if r not in regions)]:
        try:
            number = phonenumbers.parse(international, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return number
    return None


def _looks_like_identifier(text: str, start: int, raw: str, *, strict: bool = False) -> bool:
    """Digits right after "order", "invoice", "tracking", "#" … are that identifier, not a phone;
    nor are prices, dates, fractions, short numbers or pieces of a long digit run (cards, tracking).
    ``strict`` (a number valid for its region) skips the shape checks, not the context checks."""
    if _DATE_OR_TIME_RE.match(raw.strip()):
        return True
    end = start + len(raw)
    if not strict:
        digits = re.sub(r"\D", "", raw)
        if len(digits) < 7 or "/" in raw or re.fullmatch(r"[\d,]+[.,]\d{1,2}", raw.strip()):
            return True
        if digits.startswith("000"):
            return True  # zero-padded: an identifier ("00004587345"), never a dialling prefix
        if not re.search(r"[\s().-]", raw.strip()) and not raw.strip().startswith(("+", "0", "(")):
            return True  # a bare run of digits that is not a valid number: an order or purchase number
        if re.search(r"[$€£¥]\s?[\d,]*$", text[max(0, start - 3) : start]):
            return True
        run_start, run_end = start, end
        while run_start > 0 and (text[run_start - 1].isdigit() or text[run_start - 1] == " "):
            run_start -= 1
        while run_end < len(text) and (text[run_end].isdigit() or text[run_end] == " "):
            run_end += 1
        if any(ch.isdigit() for ch in text[run_start:start]):
            return True  # the tail of a longer digit run
        run = text[start:run_end].strip()
        if len(re.sub(r"\D", "", run)) >= 13 and not (raw.startswith(("00", "+")) or text[start - 1 : start] == "+"):
            return True  # a piece of a card or tracking number
    if (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-_/")) or (
        end < len(text) and (text[end].isalnum() or text[end] in "-_/")
    ):
        return True  # part of a longer code: "1Z999AA10123456784", "NW-10023"
    return bool(_IDENTIFIER_BEFORE_RE.search(text[max(0, start - 24) : start]))


def regions_for(phones: Iterable[str], default: str) -> list[str]:
    """The contact's own regions (from the phones on record, in E.164), then the site's region."""
    regions: list[str] = []
    for raw in phones:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(raw, default))
        except phonenumbers.NumberParseException:
            continue
        if region and region != "ZZ" and region not in regions:
            regions.append(region)
    if default not in regions:
        regions.append(default)
    return regions


def _literal_spans(text: str, values: Iterable[str], kind: str, *, case_sensitive: bool = False) -> list[_Span]:
    spans: list[_Span] = []
    flags = 0 if case_sensitive else re.IGNORECASE
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", flags)
        spans.extend(_Span(m.start(), m.end(), kind, value.lower()) for m in pattern.finditer(text))
    return spans


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


@dataclass
class Redactor:
    """Redacts many strings with one shared, stable placeholder mapping."""

    known: dict[str, Any] = field(default_factory=dict)
    region: str = ""
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original text
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, key) -> placeholder
    _counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.region = (self.region or app_settings.DEFAULT_REGION).upper()
        self._names = _name_variants(_as_list(self.known.get("names")))
        self._emails = _as_list(self.known.get("emails"))
        self._phones: dict[str, str] = {}
        self._regions = regions_for(_as_list(self.known.get("phones")), self.region)
        for raw in _as_list(self.known.get("phones")):
            try:
                parsed = phonenumbers.parse(raw, self.region)
            except phonenumbers.NumberParseException:
                continue
            self._phones[raw] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def _placeholder(self, kind: str, key: str, original: str) -> str:
        existing = self._keys.get((kind, key))
        if existing:
            return existing
        self._counts[kind] = self._counts.get(kind, 0) + 1
        placeholder = f"[{kind}_{self._counts[kind]}]"
        self._keys[(kind, key)] = placeholder
        self.mapping[placeholder] = original
        return placeholder

    def text(self, text: str) -> str:
        if not text:
            return text
        # Earlier groups win overlaps: a known email beats the name inside it, a card beats a "phone".
        groups = [
            _literal_spans(text, self._emails, "EMAIL"),
            [_Span(m.start(), m.end(), "EMAIL", m.group(0).lower()) for m in EMAIL_RE.finditer(text)],
            _iban_spans(text),
            _card_spans(text),
            _id_spans(text),
            [
                _Span(s.start, s.end, "PHONE", self._phones[raw])
                for raw in self._phones
                for s in _literal_spans(text, [raw], "PHONE")
            ],
            _phone_spans(text, self._regions),
            _literal_spans(text, self._names, "NAME"),
        ]
        taken: list[_Span] = []
        for group in groups:
            for span in sorted(group, key=lambda s: (s.start, -(s.end - s.start))):
                if all(span.end <= t.start or span.start >= t.end for t in taken):
                    taken.append(span)
        pieces: list[str] = []
        cursor = 0
        for span in sorted(taken, key=lambda s: s.start):  # numbered in reading order
            pieces.append(text[cursor : span.start])
            pieces.append(self._placeholder(span.kind, span.key, text[span.start : span.end]))
            cursor = span.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def data(self, value: Any) -> Any:
        """Redact every string inside a JSON-like structure (keys are left alone)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def _name_variants(names: list[str]) -> list[str]:
    """Full names and their parts ("Maria Gonzalez", "Maria", "Gonzalez"), longest first."""
    variants: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if len(name) < 2:
            continue
        variants.add(name)
        variants.update(part for part in name.split() if len(part) >= 2 and part[0].isalpha())
    return sorted(variants, key=len, reverse=True)


def redact(text: str, *, known: dict[str, Any] | None = None, region: str = "") -> tuple[str, dict[str, str]]:
    """Return ``text`` with personal data replaced by placeholders, and placeholder -> original."""
    redactor = Redactor(known or {}, region)
    return redactor.text(text), redactor.mapping


def rehydrate(value: Any, mapping: dict[str, str]) -> Any:
    """Put the originals back into a string or JSON-like structure; unknown placeholders stay."""
    if not mapping:
        return value
    if isinstance(value, str):
        return PLACEHOLDER_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), value)
    if isinstance(value, dict):
        return {k: rehydrate(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [rehydrate(v, mapping) for v in value]
    return value


def known_from_subject(subject: Any) -> dict[str, list[str]]:
    """Names, emails and phones of the CRM record in hand (a Contact, Lead, Case …), by duck typing,
    so the engine never imports a feature app. A ``contact`` attribute is followed one level."""
    known: dict[str, list[str]] = {"names": [], "emails": [], "phones": []}
    for record in (subject, getattr(subject, "contact", None), getattr(subject, "customer", None)):
        if record is None:
            continue
        full = getattr(record, "full_name", "") or " ".join(
            part for part in (getattr(record, "first_name", ""), getattr(record, "last_name", "")) if part
        )
        for value in (full, getattr(record, "name", "")):
            if isinstance(value, str) and value.strip():
                known["names"].append(value.strip())
        for attr, bucket in (("email", "emails"), ("phone", "phones")):
            value = getattr(record, attr, "")
            if isinstance(value, str) and value.strip():
                known[bucket].append(value.strip())
    return known


def merge_known(*sources: dict[str, Any] | None) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {"names": [], "emails": [], "phones": []}
    for source in sources:
        for key in merged:
            for value in _as_list((source or {}).get(key)):
                if value not in merged[key]:
                    merged[key].append(value)
    return merged

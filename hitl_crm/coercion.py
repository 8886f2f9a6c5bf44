"""Turning the text of an imported cell into a typed value: numbers, yes/no, dates, emails.

Shared by every importer (the leads CSV import, the contact attribute import). Pure functions,
no database. Each parser takes the cell's text and returns the value or raises ``ValueError``
with a sentence the person who made the file can act on; empty cells are the caller's
business (an empty cell usually means "not given", which is not an error).

Numbers are read the way people write them in spreadsheets exported from different locales:

- ``1234.5``, ``-3``, ``1,234.50``, ``1 234,50``, ``12.500,00``, ``1'234.50``, ``$1,234``, ``€ 12,50``;
- with both ``,`` and ``.``, the last one is the decimal separator;
- with one kind repeated (``1,234,567`` / ``1.234.567``), it separates thousands;
- a single ``,`` followed by exactly three digits (``1,234``) separates thousands, as in the
  files most CRMs export; any other single ``,`` is a decimal comma (``12,5``); a single ``.``
  is always a decimal point.

Money (:func:`parse_money`) is a number with an optional currency written as a sign (``€``,
``$``, ``£``, ``¥``) or an ISO 4217 code, before or after it: ``€12.500,00``, ``12 500,00 €``,
``USD 1,234.50``, ``1.234,5 EUR``. Once the currency is known, a single separator followed by
exactly three digits (``€12.500``) separates thousands whenever the currency has fewer than three
decimals, and an amount with more decimals than the currency has is refused.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from hitl_crm.money import CURRENCIES

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "x"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
CURRENCY_SIGNS = "$€£¥"
#: The currency each sign stands for when no code says otherwise ("$" is read as US dollars).
SIGN_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")
_PLAIN_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$")
_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


def parse_number(text: str) -> Decimal:
    """The number written in ``text`` (locale-aware separators, an optional currency sign).

    ``ValueError`` when it is not a finite number.
    """
    raw = str(text)
    cleaned = _SPACES.sub("", raw.strip()).strip(CURRENCY_SIGNS)
    sign = ""
    if cleaned and cleaned[0] in "+-":
        sign, cleaned = ("-" if cleaned[0] == "-" else ""), cleaned[1:].lstrip(CURRENCY_SIGNS)
    if not cleaned or not re.fullmatch(r"[\d.,]+", cleaned):
        raise ValueError(f"'{raw.strip()}' is not a number.")
    commas, dots = cleaned.count(","), cleaned.count(".")
    if commas and dots:
        decimal_mark = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        whole, _, fraction = cleaned.rpartition(decimal_mark)
        if thousands in fraction or decimal_mark in whole or not _GROUPED.match(whole):
            raise ValueError(f"'{raw.strip()}' is not a number.")
        normalised = whole.replace(thousands, "") + "." + fraction
    elif commas > 1 or dots > 1:
        if not _GROUPED.match(cleaned):
            raise ValueError(f"'{raw.strip()}' is not a number.")
        normalised = cleaned.replace(",", "").replace(".", "")
    elif commas == 1:
        whole, _, fraction = cleaned.partition(",")
        grouped = len(fraction) == 3 and 1 <= len(whole) <= 3 and whole[0] != "0"
        normalised = whole + fraction if grouped else whole + "." + fraction
    else:
        normalised = cleaned
    try:
        number = Decimal(sign + normalised)
    except InvalidOperation:
        raise ValueError(f"'{raw.strip()}' is not a number.") from None
    if not number.is_finite():
        raise ValueError(f"'{raw.strip()}' is not a number.")
    return number


class ParsedMoney(NamedTuple):
    """An amount and its ISO 4217 currency ("" when the text named none and no default was given)."""

    amount: Decimal
    currency: str


_CODE_FIRST = re.compile(r"^([A-Za-z]{3})(?![A-Za-z])\s*(.*)$", re.S)
_CODE_LAST = re.compile(r"^(.*?)(?<![A-Za-z])([A-Za-z]{3})$", re.S)
# The codes a sign may stand beside: "$" writes every dollar (CAD 12 $), "£" every pound, "¥" yen and yuan.
_SIGN_CODES: dict[str, tuple[str, ...]] = {
    "$": ("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "BSD", "BBD", "BZD", "BMD", "KYD", "JMD", "TTD", "XCD"),
    "€": ("EUR",),
    "£": ("GBP", "EGP", "GIP", "FKP", "SHP"),
    "¥": ("JPY", "CNY"),
}
_ONE_GROUP = re.compile(r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$")


def parse_money(text: str, *, default_currency: str = "") -> ParsedMoney:
    """The amount and currency written in ``text``: ``€12.500,00`` → (12500.00, "EUR").

    Numbers are read as :func:`parse_number` reads them; the currency comes from a sign or an
    ISO 4217 code before or after the number, else ``default_currency``. ``ValueError`` names the
    problem: not a number, an unknown code, a sign and a code that disagree, two currencies, or
    more decimals than the currency has.
    """
    raw = str(text).strip()
    rest = raw
    code = ""
    for pattern, code_group, rest_group in ((_CODE_FIRST, 1, 2), (_CODE_LAST, 2, 1)):
        match = pattern.match(rest)
        if match:
            code, rest = match.group(code_group).upper(), match.group(rest_group).strip()
            if code not in CURRENCIES:
                if not re.search(r"\d", raw):
                    raise ValueError(f"'{raw}' is not an amount.")
                raise ValueError(f"'{match.group(code_group)}' is not a known currency code.")
            break
    signs = {c for c in rest if c in SIGN_CURRENCIES}
    if len(signs) > 1 or (code and signs and code not in _SIGN_CODES[next(iter(signs))]):
        raise ValueError(f"'{raw}' names two currencies.")
    signs = {SIGN_CURRENCIES[c] for c in signs}
    currency = code or (signs.pop() if signs else "") or (default_currency or "").upper()
    if not re.search(r"\d", rest):
        raise ValueError(f"'{raw}' is not an amount.")
    try:
        number = parse_number(rest)
    except ValueError:
        raise ValueError(f"'{raw}' is not an amount.") from None
    if currency:
        places = CURRENCIES.get(currency)
        if places is None:
            raise ValueError(f"'{currency}' is not a known currency code.")
        digits = _SPACES.sub("", rest).strip(CURRENCY_SIGNS).lstrip("+-").strip(CURRENCY_SIGNS)
        if places < 3 and _ONE_GROUP.match(digits):
            number = parse_number(rest.replace(",", "").replace(".", ""))
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(f"'{raw}' has more decimals than {currency} has ({places}).")
    return ParsedMoney(number, currency)


def parse_bool(text: str) -> bool:
    """yes/no, true/false, y/n, t/f, 1/0, x (a ticked box); ``ValueError`` otherwise."""
    lowered = str(text).strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("Use yes or no.")


def parse_date(text: str, *, day_first: bool = True) -> date:
    """A calendar date from ISO 8601 (``2024-03-01``, also with a time), ``1 Mar 2024``, ``March 1, 2024``,
    ``01.03.2024`` (always day first) or ``01/03/2024`` (day first unless ``day_first=False``;
    a part above 12 settles it either way). ``ValueError`` when it is not a date.
    """
    raw = str(text).strip()
    problem = f"'{raw}' is not a date; write it as YYYY-MM-DD."
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return date.fromisoformat(raw)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", raw):
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
        if match := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", raw):
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        if match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", raw):
            first, second, year = (int(g) for g in match.groups())
            if first > 12 or (day_first and second <= 12):
                return date(year, second, first)
            return date(year, first, second)
        words = re.sub(r"[,.]", " ", raw).lower().split()
        if len(words) == 3:
            if words[0].isdigit() and words[1] in _MONTHS:  # 1 Mar 2024
                return date(int(words[2]), _MONTHS[words[1]], int(words[0]))
            if words[0] in _MONTHS and words[1].isdigit():  # March 1, 2024
                return date(int(words[2]), _MONTHS[words[0]], int(words[1]))
    except ValueError:
        raise ValueError(problem) from None
    raise ValueError(problem)


def parse_email(text: str) -> str:
    """The address, trimmed and lower-cased; ``ValueError`` when it is not an email address."""
    raw = str(text).strip()
    email = raw.lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"'{raw}' is not an email address.") from None
    return email


def coerce_attribute(value: Any) -> Any:
    """A free-form attribute cell as stored in ``attributes`` JSON: numbers as numbers, the rest as text.

    Non-text values pass through; an empty cell is ``None`` (missing). Only numbers that read
    one way are converted: plain ones (``42``, ``-0.5``) and grouped ones (``1,234.50``,
    ``12.500,00``); a leading zero (``00123``, a postcode or an id) keeps the text. A whole
    number written without a decimal part is an ``int``, otherwise a ``float``.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text == "":
        return None
    if _PLAIN_NUMBER.match(text):
        number = float(text)
        return int(number) if "." not in text else number
    digits = text.lstrip("+-")
    if not digits[:1].isdigit() or (digits[:1] == "0" and digits[1:2].isdigit()):
        return text
    has_both = "," in digits and "." in digits
    if not (has_both or _GROUPED.match(digits)) or not re.fullmatch(r"[\d.,]+", digits):
        return text
    try:
        parsed = parse_number(text)
    except ValueError:
        return text
    return int(parsed) if parsed == parsed.to_integral_value() and not has_both else float(parsed)

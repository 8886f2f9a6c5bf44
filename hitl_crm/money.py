"""Money: an amount with its currency. The one money type of the project.

``Money(Decimal("1200"), "USD")`` is valid only for a known ISO 4217 code; amounts keep
their exact ``Decimal`` value, and :meth:`Money.quantized` rounds to the currency's minor
unit (2 for USD, 3 for KWD, 0 for JPY). Comparing or adding amounts in different
currencies is an error, never a silent number comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# ISO 4217 active codes and their minor units (digits after the decimal point).
CURRENCIES: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
    "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2,
    "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CLP": 0, "CNY": 2,
    "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
    "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2,
    "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0,
    "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2,
    "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2,
    "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2,
    "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2,
    "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
    "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2,
    "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
    "USD": 2, "UYU": 2, "UZS": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XOF": 0,
    "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCIES)]

_PARSE = re.compile(r"^\s*(?:([A-Za-z]{3})\s+)?([-+]?[\d,]*\.?\d+)\s*(?:([A-Za-z]{3}))?\s*$")


class MoneyError(ValueError):
    """Not a valid amount of money (bad number, unknown currency, mixed currencies)."""


class UnknownCurrency(MoneyError):
    """The code is not an ISO 4217 currency this project knows."""


def currency_code(value: Any) -> str:
    """``value`` as a known ISO 4217 code (upper-cased), or ``UnknownCurrency``."""
    code = str(value or "").strip().upper()
    if code not in CURRENCIES:
        raise UnknownCurrency(f"{str(value or '').strip() or '(empty)'!s} is not a known ISO 4217 currency code.")
    return code


def minor_units(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 for USD, 3 for KWD, 0 for JPY)."""
    return CURRENCIES[currency_code(currency)]


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is not an amount.")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not an amount.") from None
    if not number.is_finite():
        raise MoneyError(f"{value!r} is not an amount.")
    return number


@dataclass(frozen=True, order=False)
class Money:
    """An exact amount in one ISO 4217 currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _decimal(self.amount))
        object.__setattr__(self, "currency", currency_code(self.currency))

    @classmethod
    def of(cls, amount: Any, currency: Any) -> Money:
        """Build from loose input (``"1,200.00"``, ``"usd"``); raises ``MoneyError``/``UnknownCurrency``."""
        return cls(_decimal(amount), currency)

    @classmethod
    def parse(cls, text: str, *, default_currency: str | None = None) -> Money:
        """``"1,200.00 USD"``, ``"USD 1200"`` or (with ``default_currency``) ``"1200"``."""
        match = _PARSE.match(str(text or ""))
        if not match or (match.group(1) and match.group(3)):
            raise MoneyError(f"{text!r} is not an amount with a currency, e.g. 1,200.00 USD.")
        currency = match.group(1) or match.group(3) or default_currency
        if not currency:
            raise MoneyError(f"{text!r} has no currency, e.g. 1,200.00 USD.")
        return cls(_decimal(match.group(2)), currency)

    @property
    def minor_units(self) -> int:
        return CURRENCIES[self.currency]

    def quantized(self, *, rounding: str = ROUND_HALF_UP) -> Money:
        """Rounded to the currency's minor unit."""
        return Money(self.amount.quantize(Decimal(1).scaleb(-self.minor_units), rounding=rounding), self.currency)

    def fits_minor_units(self) -> bool:
        """Whether the amount has no more decimals than the currency allows (12.345 USD does not)."""
        return self.amount == self.amount.quantize(Decimal(1).scaleb(-self.minor_units), rounding=ROUND_HALF_UP)

    def converted(self, currency: str, rate: Decimal) -> Money:
        """This amount in ``currency`` at ``rate`` (units of ``currency`` per unit of ours).

        Rounded up to the target's minor unit, so a conversion never lets an amount slip
        under a limit it is compared with.
        """
        target = Money(self.amount * _decimal(rate), currency)
        return target.quantized(rounding=ROUND_CEILING)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot compare Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise MoneyError(f"Cannot compare {self.currency} with {other.currency}.")

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def format(self) -> str:
        """``"1,200.00 USD"``: grouped, with the currency's minor units."""
        places = self.minor_units
        value = self.quantized().amount
        return f"{value:,.{places}f} {self.currency}"

    def __str__(self) -> str:
        return self.format()

    def as_json(self) -> dict[str, str]:
        return {"amount": str(self.quantized().amount), "currency": self.currency}


__all__ = ["CURRENCIES", "CURRENCY_CHOICES", "Money", "MoneyError", "UnknownCurrency", "currency_code", "minor_units"]


def validate_currency_code(value: Any) -> None:
    """Model/form validator: an ISO 4217 code this project knows, in upper case."""
    from django.core.exceptions import ValidationError

    if value not in CURRENCIES:
        raise ValidationError(f"{value!s} is not a known ISO 4217 currency code (e.g. USD, EUR, KWD).")

"""Money cells as spreadsheets from different locales write them: amount and currency."""

import re
from decimal import Decimal

import pytest

from hitl_crm.coercion import parse_money


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("€12.500,00", "12500.00", "EUR"),
        ("12 500,00 €", "12500.00", "EUR"),
        ("12\u00a0500,00\u00a0€", "12500.00", "EUR"),
        ("1,234.50", "1234.50", ""),
        ("USD 1,234.50", "1234.50", "USD"),
        ("1.234,5 eur", "1234.5", "EUR"),
        ("$1,234", "1234", "USD"),
        ("£ 99.95", "99.95", "GBP"),
        ("¥1,234", "1234", "JPY"),
        ("CAD $12", "12", "CAD"),
        ("-€5", "-5", "EUR"),
        # With a currency of two decimals, one separator before three digits groups thousands.
        ("€12.500", "12500", "EUR"),
        ("12.345 EUR", "12345", "EUR"),
        ("12,5", "12.5", ""),
    ],
)
def test_amount_and_currency_are_read_from_locale_spellings(text, amount, currency):
    assert parse_money(text) == (Decimal(amount), currency)


def test_a_default_currency_applies_only_when_the_text_names_none():
    assert parse_money("1.500,00", default_currency="eur") == (Decimal("1500.00"), "EUR")
    assert parse_money("$20", default_currency="EUR") == (Decimal("20"), "USD")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "'abc' is not an amount."),
        ("EUR", "'EUR' is not an amount."),
        ("XYZ 12", "'XYZ' is not a known currency code."),
        ("€$5", "'€$5' names two currencies."),
        ("EUR $12", "names two currencies"),
        ("1.2345 USD", "more decimals than USD has (2)"),
        ("12,34,5 €", "is not an amount"),
    ],
)
def test_what_is_not_money_says_why(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_money(text)

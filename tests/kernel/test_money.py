"""hitl_crm.money: amounts with an ISO 4217 currency, never bare numbers."""

from decimal import Decimal

import pytest

from hitl_crm.money import Money, MoneyError, UnknownCurrency, minor_units


def test_known_codes_with_their_minor_units():
    assert (minor_units("USD"), minor_units("KWD"), minor_units("JPY")) == (2, 3, 0)
    assert Money.of("1,200", "usd") == Money(Decimal("1200"), "USD")


@pytest.mark.parametrize("code", ["XYZ", "US", "", "usd1", None])
def test_unknown_codes_are_refused(code):
    with pytest.raises(UnknownCurrency):
        Money(Decimal("1"), code)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,200.00 USD", Money(Decimal("1200.00"), "USD")),
        ("USD 1200", Money(Decimal("1200"), "USD")),
        ("499.125 kwd", Money(Decimal("499.125"), "KWD")),
    ],
)
def test_parse(text, expected):
    assert Money.parse(text) == expected


@pytest.mark.parametrize("text", ["1200", "twelve USD", "USD 12 EUR", "NaN USD", "Infinity USD"])
def test_parse_refuses_what_is_not_an_amount_with_a_currency(text):
    with pytest.raises(MoneyError):
        Money.parse(text)


def test_format_uses_the_currencys_minor_units():
    assert Money(Decimal("1200"), "USD").format() == "1,200.00 USD"
    assert Money(Decimal("499"), "KWD").format() == "499.000 KWD"
    assert Money(Decimal("15000.4"), "JPY").format() == "15,000 JPY"


def test_amounts_in_different_currencies_do_not_compare():
    with pytest.raises(MoneyError, match="Cannot compare KWD with USD"):
        assert Money(Decimal("499"), "KWD") <= Money(Decimal("500"), "USD")
    assert Money(Decimal("20000.00"), "USD") <= Money(Decimal("20000"), "USD")
    assert not Money(Decimal("20000.01"), "USD") <= Money(Decimal("20000"), "USD")


def test_conversion_rounds_up_so_it_never_slips_under_a_limit():
    # 0.001 KWD at 3.25 is 0.00325 USD: rounded up to 0.01, never down to 0.00
    assert Money(Decimal("0.001"), "KWD").converted("USD", Decimal("3.25")) == Money(Decimal("0.01"), "USD")
    assert Money(Decimal("499"), "KWD").converted("USD", Decimal("3.25")).format() == "1,621.75 USD"

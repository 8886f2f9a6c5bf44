"""Typing imported cells: numbers as people write them in different locales, yes/no, dates, emails."""

from datetime import date
from decimal import Decimal

import pytest

from hitl_crm.coercion import coerce_attribute, parse_bool, parse_date, parse_email, parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.5", "1234.5"),
        ("-3", "-3"),
        ("1,234.50", "1234.50"),  # English thousands and decimal point
        ("12.500,00", "12500.00"),  # German / Dutch
        ("1 234,50", "1234.50"),  # French (a space between thousands)
        ("1\u202f234,50", "1234.50"),  # the same with a narrow no-break space, as spreadsheets export it
        ("1'234.50", "1234.50"),  # Swiss
        ("1,234,567", "1234567"),
        ("1.234.567", "1234567"),
        ("1,234", "1234"),  # one comma and three digits: thousands
        ("12,5", "12.5"),  # any other single comma: a decimal comma
        ("0,125", "0.125"),
        ("$1,234", "1234"),
        ("€ 12,50", "12.50"),
        ("-$5", "-5"),
    ],
)
def test_numbers_are_read_the_way_their_locale_writes_them(text, expected):
    assert parse_number(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "12.50.0,1", "1.234,5.6", "NaN", "inf", "1e5", "--1"])
def test_what_is_not_a_number_says_so(text):
    with pytest.raises(ValueError, match="is not a number"):
        parse_number(text)


def test_yes_and_no_in_the_ways_files_write_them():
    assert [parse_bool(v) for v in ["yes", "Y", "TRUE", "t", "1", "x", " Yes "]] == [True] * 7
    assert [parse_bool(v) for v in ["no", "N", "false", "F", "0"]] == [False] * 5
    with pytest.raises(ValueError, match="Use yes or no"):
        parse_bool("maybe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024-03-01T10:30:00Z", date(2024, 3, 1)),
        ("2024-03-01 23:59", date(2024, 3, 1)),
        ("01.03.2024", date(2024, 3, 1)),
        ("01/03/2024", date(2024, 3, 1)),
        ("25/12/2024", date(2024, 12, 25)),
        ("1 Mar 2024", date(2024, 3, 1)),
        ("March 1, 2024", date(2024, 3, 1)),
    ],
)
def test_dates_in_common_spellings(text, expected):
    assert parse_date(text) == expected


def test_slash_dates_can_be_read_month_first_and_a_day_above_12_settles_it():
    assert parse_date("01/03/2024", day_first=False) == date(2024, 1, 3)
    assert parse_date("12/25/2024", day_first=True) == date(2024, 12, 25)


@pytest.mark.parametrize("text", ["2024-02-30", "31.04.2024", "yesterday", "13/13/2024", ""])
def test_what_is_not_a_date_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date(text)


def test_emails_are_trimmed_lower_cased_and_validated():
    assert parse_email("  Ana@Example.COM ") == "ana@example.com"
    with pytest.raises(ValueError, match="'not-an-email' is not an email address"):
        parse_email("not-an-email")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        ("-0.5", -0.5),
        ("29.85", 29.85),
        ("1,234.50", 1234.5),
        ("12.500,00", 12500.0),
        ("1,234", 1234),
        ("00123", "00123"),  # a postcode or an id keeps its leading zeros
        ("Fiber optic", "Fiber optic"),
        ("  Yes ", "Yes"),
        ("", None),
        ("   ", None),
        (7, 7),
        (None, None),
    ],
)
def test_attribute_cells_become_numbers_only_when_they_read_one_way(value, expected):
    result = coerce_attribute(value)
    assert result == expected
    assert type(result) is type(expected)

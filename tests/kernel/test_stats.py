"""The kernel's rate statistics against published values and the formulas worked by hand."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_crm.stats import Z95, two_proportion_z_test, wilson_interval, wilson_lower


def test_wilson_lower_bound_matches_published_values():
    # 95 % Wilson lower bounds as tabulated for 95/100, 50/50 and 10/10.
    assert wilson_lower(0, 0) == 0.0
    assert wilson_lower(95, 100) == pytest.approx(0.8882, abs=1e-4)
    assert wilson_lower(50, 50) == pytest.approx(0.9287, abs=1e-4)
    assert wilson_lower(10, 10) == pytest.approx(0.7225, abs=1e-4)
    # the same rate earns more trust with more samples
    assert wilson_lower(990, 1000) > wilson_lower(99, 100) > wilson_lower(10, 10)


def test_wilson_interval_of_10_in_100_by_hand():
    # p = 0.1, n = 100, z² = 3.8415: centre 0.114798, half-width 0.059569 → (0.0552, 0.1744)
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.05523, abs=1e-4)
    assert high == pytest.approx(0.17437, abs=1e-4)
    assert wilson_lower(10, 100) == low


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(5, 3)


def test_z95_is_the_normal_quantile():
    assert math.erfc(Z95 / math.sqrt(2)) == pytest.approx(0.05, abs=1e-12)


def test_two_proportion_z_test_20_vs_25_percent_of_1000():
    # pooled 0.225, SE = sqrt(0.225·0.775·0.002) = 0.0186748, z = 0.05 / 0.0186748 = 2.6774
    z, p = two_proportion_z_test(200, 1000, 250, 1000)
    assert z == pytest.approx(2.6774, abs=1e-3)
    assert p == pytest.approx(0.00742, abs=1e-4)
    assert two_proportion_z_test(0, 0, 3, 10) == (0.0, 1.0)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_interval_contains_the_rate_and_stays_in_0_1(n, data):
    successes = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0

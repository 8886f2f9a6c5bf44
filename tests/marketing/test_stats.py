"""A/B statistics against values worked out by hand (the arithmetic is in the comments)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketing.stats import (
    Arm,
    compare_arms,
    sample_size_per_arm,
    two_proportion_z_test,
    verdict_sentence,
    wilson_interval,
)


def test_wilson_interval_of_10_in_100():
    # p = 0.1, z = 1.96, z² = 3.8416, n = 100
    # denominator = 1 + 3.8416/100                        = 1.038416
    # centre      = (0.1 + 3.8416/200) / 1.038416          = 0.119208 / 1.038416 = 0.114798
    # half-width  = 1.96 · sqrt(0.1·0.9/100 + 3.8416/40000) / 1.038416
    #             = 1.96 · sqrt(0.0009 + 0.00009604) / 1.038416
    #             = 1.96 · 0.0315601 / 1.038416            = 0.0595696
    # interval    = (0.114798 - 0.059570, 0.114798 + 0.059570) = (0.0552, 0.1744)
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.05523, abs=1e-4)
    assert high == pytest.approx(0.17437, abs=1e-4)


def test_wilson_interval_of_zero_successes_is_not_degenerate():
    # 0 of 20: centre = (3.8416/40) / (1 + 3.8416/20) = 0.09604 / 1.19208 = 0.080565
    # half = 1.96 · sqrt(3.8416/1600) / 1.19208 = 1.96 · 0.049 / 1.19208 = 0.080565
    # → (0, 0.1611): "0 %" with 20 recipients may still mean up to 16 %.
    low, high = wilson_interval(0, 20)
    assert low == 0.0
    assert high == pytest.approx(0.16113, abs=1e-4)


def test_wilson_interval_without_data_and_with_bad_input():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(5, 3)


def test_two_proportion_z_test_20_vs_25_percent_of_1000():
    # p1 = 200/1000 = 0.20, p2 = 250/1000 = 0.25, pooled p̂ = 450/2000 = 0.225
    # SE = sqrt(0.225 · 0.775 · (1/1000 + 1/1000)) = sqrt(0.174375 · 0.002) = sqrt(0.00034875) = 0.0186748
    # z  = (0.25 - 0.20) / 0.0186748 = 2.6774
    # p  = erfc(2.6774 / √2) = erfc(1.89320) = 0.00742
    z, p = two_proportion_z_test(200, 1000, 250, 1000)
    assert z == pytest.approx(2.6774, abs=1e-3)
    assert p == pytest.approx(0.00742, abs=1e-4)


def test_two_proportion_z_test_5_vs_7_percent_of_600_is_not_significant():
    # p1 = 30/600 = 0.05, p2 = 42/600 = 0.07, pooled p̂ = 72/1200 = 0.06
    # SE = sqrt(0.06 · 0.94 · 2/600) = sqrt(0.0564 · 0.0033333) = sqrt(0.000188) = 0.0137113
    # z  = 0.02 / 0.0137113 = 1.4586;  p = erfc(1.4586/√2) = erfc(1.03141) = 0.1447
    z, p = two_proportion_z_test(30, 600, 42, 600)
    assert z == pytest.approx(1.4586, abs=1e-3)
    assert p == pytest.approx(0.1447, abs=1e-3)


def test_two_proportion_z_test_is_symmetric_and_safe_without_variation():
    z_ab, p_ab = two_proportion_z_test(30, 600, 42, 600)
    z_ba, p_ba = two_proportion_z_test(42, 600, 30, 600)
    assert z_ba == pytest.approx(-z_ab)
    assert p_ba == pytest.approx(p_ab)
    assert two_proportion_z_test(0, 100, 0, 100) == (0.0, 1.0)
    assert two_proportion_z_test(0, 0, 3, 10) == (0.0, 1.0)


def test_sample_size_for_10_to_12_percent():
    # p1 = 0.10, p2 = 0.12, p̄ = 0.11, z(0.975) = 1.959964, z(0.80) = 0.841621
    # sqrt(2 · 0.11 · 0.89)         = sqrt(0.1958) = 0.442493
    # sqrt(0.1·0.9 + 0.12·0.88)     = sqrt(0.1956) = 0.442267
    # (1.959964·0.442493 + 0.841621·0.442267)² / 0.02²
    #   = (0.867270 + 0.372222)² / 0.0004 = 1.239492² / 0.0004 = 1.536340 / 0.0004 = 3840.85 → 3841
    assert sample_size_per_arm(0.10, 0.02) == 3841


def test_sample_size_for_3_to_4_percent_clicks():
    # p̄ = 0.035: sqrt(2·0.035·0.965) = sqrt(0.06755) = 0.259904
    # sqrt(0.03·0.97 + 0.04·0.96) = sqrt(0.0291 + 0.0384) = sqrt(0.0675) = 0.259808
    # (1.959964·0.259904 + 0.841621·0.259808)² / 0.01² = (0.509402 + 0.218660)² · 10⁴
    #   = 0.728062² · 10⁴ = 0.530074 · 10⁴ = 5300.7 → 5301
    assert sample_size_per_arm(0.03, 0.01) == 5301


def test_sample_size_grows_with_power_and_shrinks_with_the_effect():
    assert sample_size_per_arm(0.10, 0.02, power=0.9) > sample_size_per_arm(0.10, 0.02)
    assert sample_size_per_arm(0.10, 0.04) < sample_size_per_arm(0.10, 0.02)
    with pytest.raises(ValueError, match="below 1"):
        sample_size_per_arm(0.9, 0.2)
    with pytest.raises(ValueError, match="baseline"):
        sample_size_per_arm(0, 0.01)


def test_verdict_when_b_leads_without_significance():
    arms = [Arm("A", 30, 600), Arm("B", 42, 600)]
    sentence = verdict_sentence(arms, metric="clicks", needed_per_arm=5301)
    assert sentence == (
        "B is ahead but not significant yet (7.0% vs 5.0% clicks, p = 0.14). "
        "The test needs about 5,301 recipients per variant; the smallest has 600."
    )


def test_verdict_when_b_wins():
    sentence = verdict_sentence([Arm("A", 200, 1000), Arm("B", 250, 1000)], metric="opens")
    assert sentence == "B is the winner: 25.0% vs 20.0% opens, p = 0.007."


def test_verdict_for_level_single_and_empty_tests():
    assert verdict_sentence([Arm("A", 5, 100), Arm("B", 5, 100)]) == "A and B are level so far (5.0% clicks each)."
    assert verdict_sentence([Arm("A", 5, 100), Arm("B", 0, 0)]).startswith("Only A has recipients")
    assert verdict_sentence([Arm("A", 0, 0)]) == "Nothing has been sent yet."


def test_three_arms_use_a_bonferroni_threshold():
    # leader C (72/1000) vs runner-up B (50/1000): pooled 0.061, SE = sqrt(0.061·0.939·0.002) = 0.010703,
    # z = 0.022/0.010703 = 2.056, p = 0.0398 — below 0.05, but not below 0.05/2 = 0.025
    arms = [Arm("A", 40, 1000), Arm("B", 50, 1000), Arm("C", 72, 1000)]
    result = compare_arms(arms)
    assert result.leader.label == "C"
    assert result.runner_up.label == "B"
    assert result.threshold == pytest.approx(0.025)
    assert 0.025 < result.p < 0.05
    assert result.significant is False


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_interval_always_contains_the_observed_rate(n, data):
    successes = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


@given(st.integers(1, 2000), st.integers(1, 2000), st.data())
def test_p_value_is_a_probability(n1, n2, data):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    z, p = two_proportion_z_test(x1, n1, x2, n2)
    assert 0.0 <= p <= 1.0
    assert math.isfinite(z)

"""The deterministic split: same cell for the same contact, balanced cells, calculator-sized tests."""

from collections import Counter

import pytest

from marketing.split import bucket, split_plan

# Chi-square critical values at p = 0.001: a fair split exceeds them once in a thousand draws.
CHI2_999 = {1: 10.83, 2: 13.82, 4: 18.47}


def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def test_a_contact_always_lands_in_the_same_bucket():
    # given: the same campaign and contact, asked twice (and in another order)
    first = [bucket(7, contact) for contact in range(1, 200)]
    again = [bucket(7, contact) for contact in reversed(range(1, 200))][::-1]
    # then: identical values, all in [0, 1)
    assert first == again
    assert all(0.0 <= value < 1.0 for value in first)
    # and: another campaign shuffles contacts independently
    assert [bucket(8, c) for c in range(1, 200)] != first


def test_two_variants_split_10000_contacts_evenly():
    # given: the calculator wants 5,301 per variant, more than half of 10,000: everyone is in the test
    plan = split_plan(arms=2, audience=10_000, baseline=0.03, mde=0.01, power=0.8, alpha=0.05)
    assert plan.share == 0.5
    assert not plan.has_remainder
    # when
    cells = Counter(plan.cell_of(bucket(42, contact)) for contact in range(1, 10_001))
    # then: close to 5,000 each (chi-square with 1 degree of freedom)
    assert set(cells) == {0, 1}
    assert chi_square([cells[0], cells[1]], [5000, 5000]) < CHI2_999[1]


def test_calculator_sized_cells_leave_a_balanced_remainder():
    # given: 4 variants, a calculator asking for 1,094 per cell (20% → 25%), 10,000 contacts
    plan = split_plan(arms=4, audience=10_000, baseline=0.2, mde=0.05, power=0.8, alpha=0.05)
    assert plan.needed_per_arm == 1094
    assert plan.share == pytest.approx(0.1094)
    assert plan.has_remainder
    assert plan.expected_remainder == 10_000 - 4 * 1094
    # when
    cells = Counter(plan.cell_of(bucket(3, contact)) for contact in range(1, 10_001))
    # then: four cells of about 1,094 and the rest waiting for the winner (4 degrees of freedom)
    observed = [cells[0], cells[1], cells[2], cells[3], cells[None]]
    expected = [1094.0] * 4 + [10_000 - 4 * 1094.0]
    assert chi_square(observed, expected) < CHI2_999[4]


def test_small_audiences_are_split_evenly_and_flagged_as_underpowered():
    plan = split_plan(arms=3, audience=900, baseline=0.03, mde=0.01, power=0.8, alpha=0.05)
    assert plan.share == pytest.approx(1 / 3)
    assert not plan.has_remainder
    assert plan.underpowered  # 300 per cell where the calculator wants 5,301
    assert {plan.cell_of(v) for v in (0.0, 0.34, 0.99999)} == {0, 1, 2}


def test_one_variant_goes_to_everyone():
    plan = split_plan(arms=1, audience=500, baseline=0.03, mde=0.01, power=0.8, alpha=0.05)
    assert plan.cell_of(0.999) == 0
    assert not plan.has_remainder
    assert not plan.underpowered

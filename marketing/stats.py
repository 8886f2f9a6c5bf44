"""A/B test statistics: pure functions, no Django, no numpy.

- :func:`wilson_interval` and :func:`two_proportion_z_test` come from the kernel
  (:mod:`hitl_crm.stats`) and are re-exported here for the campaign pages;
- :func:`sample_size_per_arm` — how many recipients each variant needs to detect a difference;
- :func:`compare_arms` / :func:`verdict_sentence` — the leader, the runner-up, the p-value and
  one plain sentence a marketer can act on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from hitl_crm.stats import two_proportion_z_test, wilson_interval

__all__ = [
    "Arm",
    "Comparison",
    "compare_arms",
    "sample_size_per_arm",
    "two_proportion_z_test",
    "verdict_sentence",
    "wilson_interval",
]

_NORMAL = NormalDist()


def sample_size_per_arm(baseline: float, mde_abs: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Recipients each arm needs to detect ``baseline → baseline + mde_abs`` (two-sided test).

    ``n = (z₁₋α/₂·sqrt(2·p̄(1-p̄)) + z₁₋β·sqrt(p1(1-p1) + p2(1-p2)))² / mde²`` with
    ``p̄ = (p1+p2)/2``, rounded up.
    """
    if not 0 < baseline < 1:
        raise ValueError("baseline must be a rate between 0 and 1 (exclusive)")
    if mde_abs <= 0 or baseline + mde_abs >= 1:
        raise ValueError("the minimum detectable effect must be > 0 and keep baseline + effect below 1")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    p1, p2 = baseline, baseline + mde_abs
    p_bar = (p1 + p2) / 2
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    z_beta = _NORMAL.inv_cdf(power)
    root = z_alpha * math.sqrt(2 * p_bar * (1 - p_bar)) + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root * root / (mde_abs * mde_abs))


@dataclass(frozen=True)
class Arm:
    label: str
    successes: int
    n: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0


@dataclass(frozen=True)
class Comparison:
    """The leader against the runner-up. ``significant`` uses a Bonferroni-corrected level
    (``alpha / (arms - 1)``), because the leader is compared with every other arm."""

    leader: Arm | None
    runner_up: Arm | None
    z: float
    p: float
    threshold: float
    significant: bool


def compare_arms(arms: Sequence[Arm], alpha: float = 0.05) -> Comparison:
    """Rank arms by rate (ties: more recipients first, then label) and test the top two."""
    live = [arm for arm in arms if arm.n > 0]
    ranked = sorted(live, key=lambda a: (-a.rate, -a.n, a.label))
    threshold = alpha / max(1, len(live) - 1)
    if len(ranked) < 2:
        return Comparison(ranked[0] if ranked else None, None, 0.0, 1.0, threshold, False)
    leader, runner = ranked[0], ranked[1]
    z, p = two_proportion_z_test(runner.successes, runner.n, leader.successes, leader.n)
    return Comparison(leader, runner, z, p, threshold, leader.rate > runner.rate and p < threshold)


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def verdict_sentence(
    arms: Sequence[Arm], *, metric: str = "clicks", alpha: float = 0.05, needed_per_arm: int | None = None
) -> str:
    """One plain sentence about the test that covers every variant, e.g. "B is ahead but not significant yet
    (4.1% vs 3.2% clicks, p = 0.21).". Only a significant leader is called the winner; once every variant
    has the planned number of recipients without a significant difference, the sentence says so."""
    result = compare_arms(arms, alpha)
    if result.leader is None:
        return "Nothing has been sent yet."
    leader, runner = result.leader, result.runner_up
    idle = [arm.label for arm in arms if arm.n == 0]
    waiting = f" {_join(idle)} {'has' if len(idle) == 1 else 'have'} no recipients yet." if idle else ""
    if runner is None:
        return f"Only {leader.label} has recipients so far: {_pct(leader.rate)} {metric}. Nothing to compare yet."
    live = sorted((arm for arm in arms if arm.n > 0), key=lambda a: (-a.rate, -a.n, a.label))
    if len(live) == 2:
        figures = f"{_pct(leader.rate)} vs {_pct(runner.rate)} {metric}"
    else:
        figures = ", ".join(f"{arm.label} {_pct(arm.rate)}" for arm in live) + f" {metric}"
    if all(arm.rate == leader.rate for arm in live):
        return f"{_join([arm.label for arm in live])} are level so far ({_pct(leader.rate)} {metric} each).{waiting}"
    if leader.rate == runner.rate:
        tied = [arm.label for arm in live if arm.rate == leader.rate]
        return f"{_join(tied)} are level in front so far ({figures}).{waiting}"
    figures = f"{figures}, {_p(result.p)}"
    if result.significant:
        return f"{leader.label} is the winner: {figures}.{waiting}"
    smallest = min(arm.n for arm in live)
    if needed_per_arm and smallest >= needed_per_arm and not idle:
        return (
            f"No variant is significantly better after {smallest:,} sends each; pick one or stop the test. ({figures}.)"
        )
    sentence = f"{leader.label} is ahead but not significant yet ({figures}).{waiting}"
    if needed_per_arm and smallest < needed_per_arm:
        sentence += f" The test needs about {needed_per_arm:,} recipients per variant; the smallest has {smallest:,}."
    return sentence


def _join(labels: Sequence[str]) -> str:
    """``["A", "B", "C"]`` → ``"A, B and C"``."""
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" and {labels[-1]}"

"""Rate statistics shared by the apps: pure functions, no Django, no numpy.

- :func:`wilson_interval` / :func:`wilson_lower` — a confidence interval for a rate that
  behaves at 0 % and at small n (the normal "p ± 1.96·SE" interval does not). Marketing shows
  it next to each variant's rate; the approvals autopilot trusts a rate only by its lower bound.
- :func:`two_proportion_z_test` — is the difference between two rates more than chance?
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054
"""The two-sided 95 % quantile of the standard normal distribution."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (default 95 %).

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; ``(0.0, 0.0)`` when ``n == 0``.
    Raises ``ValueError`` when ``successes`` is not between 0 and ``n``.
    """
    if n <= 0:
        return (0.0, 0.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({successes} of {n})")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 (or n) successes the bound is exactly 0 (or 1); rounding must not put it past the rate.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def wilson_lower(successes: int, n: int, z: float = Z95) -> float:
    """Lower end of the Wilson score interval (0 when there are no samples)."""
    return wilson_interval(successes, n, z)[0]


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of ``x2/n2`` against ``x1/n1``; returns ``(z, two-sided p)``.

    ``z = (p2 - p1) / sqrt(p̂(1-p̂)(1/n1 + 1/n2))`` with the pooled ``p̂ = (x1+x2)/(n1+n2)``, and
    ``p = erfc(|z|/√2)``. With no data, or no variation at all (both 0 % or both 100 %), there is
    no evidence of a difference: ``(0.0, 1.0)``.
    """
    if n1 <= 0 or n2 <= 0:
        return (0.0, 1.0)
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return (0.0, 1.0)
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    return (z, math.erfc(abs(z) / math.sqrt(2)))

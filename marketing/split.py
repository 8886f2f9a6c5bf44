"""Deterministic A/B split: a contact's cell depends only on the campaign and the contact.

``bucket = sha256("<campaign>:<contact>") → [0, 1)``. With ``k`` variants and a cell share
``f`` (from the sample-size calculator), variant ``i`` gets the buckets ``[i·f, (i+1)·f)``
and everyone at or above ``k·f`` is the remainder, who later receive the winner. Re-planning
the same campaign gives every contact the same cell, whatever else changed in the audience.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from marketing.stats import sample_size_per_arm

_SCALE = float(1 << 64)


def bucket(campaign_id: int, contact_id: int) -> float:
    """A uniform, reproducible number in [0, 1) for this campaign and contact."""
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class SplitPlan:
    """How an audience of ``audience`` contacts is divided between ``arms`` variants.

    ``share`` is each test cell's fraction of the audience; ``expected_cell`` its expected
    size; ``needed_per_arm`` what the calculator asked for. ``has_remainder`` is False when
    the audience is too small for the test (then the whole audience is split evenly).
    """

    arms: int
    audience: int
    share: float
    needed_per_arm: int
    baseline: float
    mde: float
    power: float
    alpha: float

    @property
    def test_share(self) -> float:
        return min(1.0, self.share * self.arms)

    @property
    def has_remainder(self) -> bool:
        return self.arms > 1 and self.test_share < 1.0

    @property
    def expected_cell(self) -> int:
        return round(self.audience * self.share)

    @property
    def expected_remainder(self) -> int:
        return max(0, self.audience - self.expected_cell * self.arms) if self.has_remainder else 0

    @property
    def underpowered(self) -> bool:
        return self.arms > 1 and self.expected_cell < self.needed_per_arm

    def cell_of(self, value: float) -> int | None:
        """The variant index for a bucket value, or None for the remainder."""
        if value >= self.test_share:
            return None
        return min(self.arms - 1, math.floor(value / self.share))

    def as_dict(self) -> dict:
        return {
            "arms": self.arms,
            "share": round(self.share, 6),
            "needed_per_arm": self.needed_per_arm,
            "expected_cell": self.expected_cell,
            "expected_remainder": self.expected_remainder,
            "baseline": self.baseline,
            "mde": self.mde,
            "power": self.power,
            "alpha": self.alpha,
        }


def split_plan(*, arms: int, audience: int, baseline: float, mde: float, power: float, alpha: float) -> SplitPlan:
    """Cells of the calculator's size when the audience allows, otherwise an even split of everyone.

    One variant: everyone gets it (share 1, no test).
    """
    if arms < 1:
        raise ValueError("A campaign needs at least one variant.")
    needed = sample_size_per_arm(baseline, mde, alpha=alpha, power=power)
    share = 1.0 / arms if arms == 1 or audience <= 0 else min(1.0 / arms, needed / audience)
    return SplitPlan(arms, audience, share, needed, baseline, mde, power, alpha)

"""Lazy app settings for leads (read on access, so ``override_settings`` works).

Every setting is optional; ``leads.checks`` validates the values at start-up.

The score of a lead (0–100) blends the learned model and the admin-defined rules::

    score = w · p · 100 + (1 − w) · R

where ``p`` is the model's probability that the lead converts, ``R`` is the rules'
points normalised to 0–100 (``100 · clip(points / positive_max, 0, 1)``, where
``positive_max`` is the sum of the positive points of all active rules), and ``w`` is
``MODEL_WEIGHT``. Without an active model ``w = 0`` (rules alone); without active rules
``w = 1`` (model alone). A human override replaces the score; the tier follows it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings

_PREFIX = "HITL_CRM_LEADS_"
_MISSING = ("", "select", "n/a", "na", "none", "null", "-")


@functools.lru_cache(maxsize=8)
def _lowered(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values)


def _get(name: str, default: Any) -> Any:
    return getattr(settings, _PREFIX + name, default)


class _Settings:
    @property
    def TIER_THRESHOLDS(self) -> dict[str, int]:
        """Lowest score of each tier; below C is D."""
        return _get("TIER_THRESHOLDS", {"A": 75, "B": 50, "C": 25})

    @property
    def MODEL_WEIGHT(self) -> float:
        """``w`` in the blend: the share of the score that comes from the learned model."""
        return _get("MODEL_WEIGHT", 0.7)

    @property
    def MIN_TRAINING_LEADS(self) -> int:
        """Closed (won/lost) plus overridden leads needed before a model is trained."""
        return _get("MIN_TRAINING_LEADS", 40)

    @property
    def MIN_PER_CLASS(self) -> int:
        """Each outcome (converted / not) needs at least this many examples."""
        return _get("MIN_PER_CLASS", 10)

    @property
    def OVERRIDE_WEIGHT(self) -> float:
        """Sample weight of a human override used as a training label (a won/lost outcome weighs 1)."""
        return _get("OVERRIDE_WEIGHT", 1.0)

    @property
    def HOLDOUT_FRACTION(self) -> float:
        """Share of the training rows held out to measure ROC AUC and accuracy."""
        return _get("HOLDOUT_FRACTION", 0.25)

    @property
    def RANDOM_SEED(self) -> int:
        """Seed of the hold-out split, so the same data gives the same figures."""
        return _get("RANDOM_SEED", 42)

    @property
    def REGULARISATION_C(self) -> float:
        """Inverse L2 strength of the logistic regression."""
        return _get("REGULARISATION_C", 0.3)

    @property
    def MIN_CATEGORY_COUNT(self) -> int:
        """A category needs this many training rows to get its own coefficient (rarer ones share "other")."""
        return _get("MIN_CATEGORY_COUNT", 5)

    @property
    def NUMERIC_BINS(self) -> int:
        """Quantile bins per numeric feature (lets a linear model bend); 0 disables them."""
        return _get("NUMERIC_BINS", 10)

    @property
    def MISSING_VALUES(self) -> frozenset[str]:
        """Values that mean "not given" (compared lower-cased), such as a form's untouched "Select"."""
        return _lowered(tuple(_get("MISSING_VALUES", _MISSING)))

    @property
    def MODEL_FEATURES(self) -> list[dict[str, Any]]:
        """Features of a newly trained model when none are chosen (see ``leads.features``)."""
        return _get("MODEL_FEATURES", None) or []

    @property
    def TOP_FACTORS(self) -> int:
        """Factors kept per direction (pushing up / pulling down) with each score."""
        return _get("TOP_FACTORS", 3)

    @property
    def RESCORE_DEBOUNCE_SECONDS(self) -> int:
        """A burst of changes within this time is rescored once."""
        return _get("RESCORE_DEBOUNCE_SECONDS", 10)

    @property
    def SCORE_BATCH_SIZE(self) -> int:
        """Leads scored per numpy batch (and written per statement)."""
        return _get("SCORE_BATCH_SIZE", 5000)

    @property
    def DEFAULT_CURRENCY(self) -> str:
        """Currency of a lead's value when the person or the file names none."""
        return str(_get("DEFAULT_CURRENCY", "USD")).upper()

    @property
    def IMPORT_PREVIEW_ROWS(self) -> int:
        """Rows the preview checks (before the run) to flag the ones that would not be imported."""
        return _get("IMPORT_PREVIEW_ROWS", 5000)

    @property
    def IMPORT_CHUNK_SIZE(self) -> int:
        """CSV rows committed (and progress reported) per step."""
        return _get("IMPORT_CHUNK_SIZE", 1000)

    @property
    def IMPORT_MAX_BYTES(self) -> int:
        """Largest CSV upload accepted."""
        return _get("IMPORT_MAX_BYTES", 25 * 1024 * 1024)

    @property
    def FOLLOWUP_HISTORY_ITEMS(self) -> int:
        """Recent events and timeline entries the follow-up draft is written from."""
        return _get("FOLLOWUP_HISTORY_ITEMS", 12)


app_settings = _Settings()

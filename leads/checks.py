"""System checks for leads settings (ids leads.E001…)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from leads.conf import app_settings


def _number(value: Any, *, low: float, high: float | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value >= low and (high is None or value <= high)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    tiers = app_settings.TIER_THRESHOLDS
    if not (
        isinstance(tiers, dict)
        and set(tiers) == {"A", "B", "C"}
        and all(_number(tiers[k], low=0, high=100) for k in "ABC")
        and tiers["A"] > tiers["B"] > tiers["C"]
    ):
        errors.append(
            Error(
                "HITL_CRM_LEADS_TIER_THRESHOLDS must be {'A': a, 'B': b, 'C': c} with 100 ≥ a > b > c ≥ 0.",
                hint="The default is {'A': 75, 'B': 50, 'C': 25}.",
                id="leads.E001",
            )
        )
    if not _number(app_settings.MODEL_WEIGHT, low=0, high=1):
        errors.append(Error("HITL_CRM_LEADS_MODEL_WEIGHT must be a number between 0 and 1.", id="leads.E002"))
    for name in (
        "MIN_TRAINING_LEADS",
        "MIN_PER_CLASS",
        "SCORE_BATCH_SIZE",
        "IMPORT_CHUNK_SIZE",
        "IMPORT_MAX_BYTES",
        "IMPORT_PREVIEW_ROWS",
        "TOP_FACTORS",
        "MIN_CATEGORY_COUNT",
    ):
        value = getattr(app_settings, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            errors.append(Error(f"HITL_CRM_LEADS_{name} must be a whole number ≥ 1 (got {value!r}).", id="leads.E003"))
    if not _number(app_settings.HOLDOUT_FRACTION, low=0.05, high=0.5):
        errors.append(Error("HITL_CRM_LEADS_HOLDOUT_FRACTION must be between 0.05 and 0.5.", id="leads.E004"))
    if not _number(app_settings.REGULARISATION_C, low=1e-6):
        errors.append(Error("HITL_CRM_LEADS_REGULARISATION_C must be a positive number.", id="leads.E005"))
    if not (isinstance(app_settings.NUMERIC_BINS, int) and 0 <= app_settings.NUMERIC_BINS <= 50):
        errors.append(Error("HITL_CRM_LEADS_NUMERIC_BINS must be a whole number from 0 to 50.", id="leads.E006"))
    if not _number(app_settings.OVERRIDE_WEIGHT, low=0):
        errors.append(Error("HITL_CRM_LEADS_OVERRIDE_WEIGHT must be a number ≥ 0.", id="leads.E007"))
    if _number(app_settings.SCORE_BATCH_SIZE, low=1) and app_settings.SCORE_BATCH_SIZE > 7000:
        errors.append(
            Error(
                "HITL_CRM_LEADS_SCORE_BATCH_SIZE must be at most 7,000 (PostgreSQL allows 65,535 "
                "parameters per statement and each lead writes 9).",
                id="leads.E008",
            )
        )
    from hitl_crm.money import CURRENCIES

    if app_settings.DEFAULT_CURRENCY not in CURRENCIES:
        errors.append(
            Error(
                f"HITL_CRM_LEADS_DEFAULT_CURRENCY must be an ISO 4217 code (got {app_settings.DEFAULT_CURRENCY!r}).",
                hint="The default is USD.",
                id="leads.E009",
            )
        )
    return errors

"""Choices shared by every app."""

from __future__ import annotations

from django.db import models


class Risk(models.TextChoices):
    """How much harm a wrong action could do; higher needs more qualified people."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


RISK_ORDER = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRITICAL: 3}

"""System checks for marketing settings (run at start-up and by ``manage.py check``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from marketing.conf import app_settings

    errors: list[checks.CheckMessage] = []
    numbers = {
        "HITL_CRM_MARKETING_BATCH_SIZE": (app_settings.BATCH_SIZE, 1, 10_000),
        "HITL_CRM_MARKETING_MAX_VARIANTS": (app_settings.MAX_VARIANTS, 1, 10),
        "HITL_CRM_MARKETING_SEND_LEASE_SECONDS": (app_settings.SEND_LEASE_SECONDS, 30, 86_400),
    }
    for name, (value, low, high) in numbers.items():
        if not low <= value <= high:
            errors.append(
                checks.Error(f"{name} must be between {low} and {high} (it is {value}).", id="marketing.E001")
            )
    if app_settings.SEND_RATE < 0:
        errors.append(
            checks.Error("HITL_CRM_MARKETING_SEND_RATE must be 0 (no limit) or positive.", id="marketing.E002")
        )
    if not 0 < app_settings.ALPHA < 0.5:
        errors.append(checks.Error("HITL_CRM_MARKETING_ALPHA must be between 0 and 0.5.", id="marketing.E003"))
    site = urlsplit(app_settings.SITE_URL)
    local = site.hostname in {"127.0.0.1", "localhost", "::1"}
    if not settings.DEBUG and site.scheme != "https" and not local:
        errors.append(
            checks.Warning(
                "HITL_CRM_SITE_URL is not https: unsubscribe and tracking links in campaign emails will be "
                "plain http, and mail providers expect an https one-click List-Unsubscribe URL.",
                id="marketing.W001",
            )
        )
    return errors

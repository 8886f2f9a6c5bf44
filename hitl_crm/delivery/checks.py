"""System checks of the delivery kernel's settings."""

from __future__ import annotations

from typing import Any

from django.core import checks


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from hitl_crm.delivery.conf import app_settings

    errors: list[checks.CheckMessage] = []
    try:
        lease = app_settings.SENDING_LEASE_SECONDS
    except (TypeError, ValueError):
        lease = None
    if lease is None or lease < 60:
        errors.append(
            checks.Error(
                "HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS must be a whole number of seconds, at least 60.",
                hint="It must exceed the mail and gateway timeouts, or a live send would be taken for a dead one.",
                id="delivery.E001",
            )
        )
    return errors

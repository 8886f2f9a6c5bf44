"""Settings of the delivery kernel, read lazily (``override_settings`` works)."""

from __future__ import annotations

from django.conf import settings


class _Settings:
    @property
    def SENDING_LEASE_SECONDS(self) -> int:
        """Without PostgreSQL's session locks, a delivery ``sending`` for longer than this has lost its worker."""
        return int(getattr(settings, "HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS", 900))


app_settings = _Settings()

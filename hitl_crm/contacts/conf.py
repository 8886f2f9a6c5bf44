"""Lazy app settings for contacts (read on access, so ``override_settings`` works)."""

from django.conf import settings


class _Settings:
    @property
    def DEFAULT_PHONE_REGION(self) -> str:
        """Region used to parse phone numbers written without a country code."""
        return getattr(settings, "HITL_CRM_DEFAULT_PHONE_REGION", "US")


app_settings = _Settings()

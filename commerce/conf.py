"""Lazy app settings for commerce (read on access, so ``override_settings`` works).

Every setting is optional.
"""

from __future__ import annotations

from django.conf import settings


class _Settings:
    @property
    def FROM_EMAIL(self) -> str:
        """Sender of purchase orders to suppliers (defaults to ``DEFAULT_FROM_EMAIL``)."""
        return getattr(settings, "HITL_CRM_COMMERCE_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL

    @property
    def STOREFRONT(self) -> str:
        """Dotted path of the storefront channel that applies approved prices and bundles to the shop."""
        return getattr(settings, "HITL_CRM_COMMERCE_STOREFRONT", "commerce.storefront.WebhookStorefront")

    @property
    def STOREFRONT_WEBHOOK_URL(self) -> str:
        """Where the default storefront posts signed price and bundle events (empty: update our catalogue only)."""
        return getattr(settings, "HITL_CRM_COMMERCE_STOREFRONT_WEBHOOK_URL", "")

    @property
    def STOREFRONT_WEBHOOK_SECRET(self) -> str:
        """HMAC-SHA256 key that signs the storefront webhook (``X-HITL-Signature``)."""
        return getattr(settings, "HITL_CRM_COMMERCE_STOREFRONT_WEBHOOK_SECRET", "")

    @property
    def STOREFRONT_TIMEOUT(self) -> float:
        """Seconds to wait for the shop's webhook endpoint."""
        return float(getattr(settings, "HITL_CRM_COMMERCE_STOREFRONT_TIMEOUT", 10))

    @property
    def LARGE_PRICE_CHANGE_PERCENT(self) -> float:
        """A price change larger than this (either way) is high risk: routed to a manager."""
        return float(getattr(settings, "HITL_CRM_COMMERCE_LARGE_PRICE_CHANGE_PERCENT", 10))

    @property
    def HISTORY_WEEKS(self) -> int:
        """Weeks of order history the forecasts learn from."""
        return int(getattr(settings, "HITL_CRM_COMMERCE_HISTORY_WEEKS", 104))


app_settings = _Settings()

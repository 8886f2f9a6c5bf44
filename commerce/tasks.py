"""Celery tasks for the shop: each takes ids (or nothing), calls one idempotent service and owns its retries."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(acks_late=True)
def stock_alerts_refresh_task(product_ids: list[int] | None = None) -> dict[str, Any]:
    """Forecast demand and raise or update the stock alerts (beat: nightly, and on demand)."""
    from commerce.services.inventory import stock_alerts_refresh

    return stock_alerts_refresh(product_ids=product_ids).as_dict()


@shared_task(acks_late=True)
def price_suggestions_refresh_task(product_ids: list[int] | None = None) -> dict[str, Any]:
    """Compare with the competitors' prices and propose price changes for approval (beat: hourly)."""
    from commerce.services.pricing import price_suggestions_refresh

    return price_suggestions_refresh(product_ids=product_ids).as_dict()


@shared_task(acks_late=True)
def baskets_mine_task() -> dict[str, Any]:
    """Mine the baskets for bundle suggestions and each contact's next purchases (beat: nightly)."""
    from commerce.services.bundles import bundle_suggestions_refresh, next_purchases_refresh

    return {"bundles": bundle_suggestions_refresh().as_dict(), "next_purchases": next_purchases_refresh().as_dict()}

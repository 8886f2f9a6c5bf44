"""Reads for the shop. Selectors take the ``user`` and return only what that user may see."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from commerce.models import (
    Bundle,
    CompetitorPrice,
    NextPurchase,
    Order,
    OrderLine,
    PriceChange,
    PriceRule,
    PriceSuggestion,
    Product,
    PurchaseOrder,
    StockAlert,
)
from hitl_crm.permissions import has_permission, require_permission

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def product_list(*, user: User, active_only: bool = False) -> QuerySet[Product]:
    """Products by SKU, with their stock and supplier; none without ``commerce.view_product``."""
    if not has_permission(user, "commerce.view_product"):
        return Product.objects.none()
    qs = Product.objects.select_related("stock", "stock__supplier")
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("sku")


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def demand_series(*, user: User, product: Product, weeks: int, until: date | None = None) -> list[int]:
    """Units of ``product`` ordered per week, oldest first, weeks without orders as 0.

    The series is the ``weeks`` whole weeks (Monday to Sunday, in the site's time zone) before
    the week ``until`` falls in (default: today), so the week still running never shows as a
    week of low demand. ``PermissionDenied`` without ``commerce.view_order``: demand is what
    the orders say.
    """
    require_permission(user, "commerce.view_order", message="You may not see orders.")
    if weeks <= 0:
        return []
    current = week_start(until or timezone.localdate())
    first = current - timedelta(weeks=weeks)
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time()), zone)
    end = timezone.make_aware(datetime.combine(current, time()), zone)
    totals = [0] * weeks
    rows: QuerySet[Any, dict[str, Any]] = (
        OrderLine.objects.filter(product=product, order__placed_at__gte=start, order__placed_at__lt=end)
        .values("order__placed_at")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    for row in rows:
        day = timezone.localtime(row["order__placed_at"], zone).date()
        totals[(day - first).days // 7] += int(row["units"])
    return totals


def _none_without(user: User, perm: str, qs: QuerySet[Any]) -> QuerySet[Any]:
    return qs if has_permission(user, perm) else qs.none()


def product_get(*, user: User, product_id: int) -> Product:
    """One product with its stock and supplier; ``Product.DoesNotExist`` when missing or not visible."""
    return product_list(user=user).get(pk=product_id)


def alert_list(*, user: User, status: str | None = StockAlert.Status.OPEN) -> QuerySet[StockAlert]:
    """Stock alerts, riskiest first, with product, stock and supplier (one query)."""
    qs = StockAlert.objects.select_related("product", "product__stock", "product__stock__supplier", "owner")
    if status:
        qs = qs.filter(status=status)
    return _none_without(user, "commerce.view_stockalert", qs).order_by("-risk", "product__sku")


def purchase_order_list(*, user: User) -> QuerySet[PurchaseOrder]:
    qs = PurchaseOrder.objects.select_related("product", "supplier", "alert")
    return _none_without(user, "commerce.view_purchaseorder", qs)


def price_rule_list(*, user: User) -> QuerySet[PriceRule]:
    return _none_without(user, "commerce.view_pricerule", PriceRule.objects.select_related("product"))


def price_suggestion_list(*, user: User, status: str | None = None) -> QuerySet[PriceSuggestion]:
    qs = PriceSuggestion.objects.select_related("product", "rule")
    if status:
        qs = qs.filter(status=status)
    return _none_without(user, "commerce.view_pricesuggestion", qs)


def price_history(*, user: User, product: Product, limit: int = 200) -> list[PriceChange]:
    """The product's price changes, oldest first (the last ``limit``)."""
    if not has_permission(user, "commerce.view_product"):
        return []
    rows = list(PriceChange.objects.filter(product=product).order_by("-changed_at", "-id")[:limit])
    return rows[::-1]


def competitor_price_list(*, user: User, product: Product | None = None) -> QuerySet[CompetitorPrice]:
    qs = CompetitorPrice.objects.select_related("product")
    if product is not None:
        qs = qs.filter(product=product)
    return _none_without(user, "commerce.view_competitorprice", qs)


def bundle_list(*, user: User, status: str | None = None) -> QuerySet[Bundle]:
    qs = Bundle.objects.prefetch_related("products")
    if status:
        qs = qs.filter(status=status)
    return _none_without(user, "commerce.view_bundle", qs)


def order_list(*, user: User) -> QuerySet[Order]:
    return _none_without(user, "commerce.view_order", Order.objects.select_related("contact"))


def next_purchases_for(*, user: User, contact_id: int, limit: int = 5) -> list[NextPurchase]:
    """A contact's likeliest next purchases (rank order); empty without ``commerce.view_product``."""
    if not has_permission(user, "commerce.view_product"):
        return []
    return list(NextPurchase.objects.filter(contact_id=contact_id).select_related("product").order_by("rank")[:limit])

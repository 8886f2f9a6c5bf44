"""Reads for the shop. Selectors take the ``user`` and return only what that user may see."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from commerce.models import OrderLine, Product
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

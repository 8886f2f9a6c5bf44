from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

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
    Promotion,
    PurchaseOrder,
    StockAlert,
    StockLevel,
    Supplier,
)


class StockLevelInline(admin.StackedInline):
    model = StockLevel
    extra = 0
    max_num = 1
    can_delete = False
    raw_id_fields = ["owner"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "currency", "unit_cost", "on_hand", "active"]
    list_filter = ["active", "category", "currency"]
    search_fields = ["sku", "name", "category"]
    list_select_related = ["stock"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [StockLevelInline]

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        """A price edited here is kept in the price history like an approved one (source "admin")."""
        old = Product.objects.filter(pk=obj.pk).values_list("price", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        if old is not None and old != obj.price:
            PriceChange.objects.create(
                product=obj,
                old_price=old,
                new_price=obj.price,
                currency=obj.currency,
                source=PriceChange.Source.ADMIN,
                actor=request.user if request.user.is_authenticated else None,
            )

    @admin.display(description="on hand", ordering="stock__on_hand")
    def on_hand(self, obj: Product) -> int | None:
        stock = getattr(obj, "stock", None)
        return stock.on_hand if stock is not None else None


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "created_at"]
    search_fields = ["name", "email"]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = [
        "product",
        "on_hand",
        "on_order",
        "supplier",
        "lead_time_days",
        "min_order_qty",
        "order_multiple",
        "service_level",
        "owner",
    ]
    list_filter = ["supplier"]
    search_fields = ["product__sku", "product__name", "supplier__name"]
    list_select_related = ["product", "supplier", "owner"]
    raw_id_fields = ["product", "owner"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "placed_at", "contact", "customer_email", "currency", "line_count", "source"]
    list_filter = ["source", "currency"]
    search_fields = ["external_id", "customer_email", "contact__email"]
    date_hierarchy = "placed_at"
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]
    readonly_fields = ["created_at"]
    inlines = [OrderLineInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).annotate(line_count=Count("lines"))

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, obj: Order) -> int:
        return int(getattr(obj, "line_count", 0))


@admin.register(CompetitorPrice)
class CompetitorPriceAdmin(admin.ModelAdmin):
    list_display = ["product", "competitor", "price", "shipping", "currency", "observed_at", "source"]
    list_filter = ["competitor", "currency"]
    search_fields = ["product__sku", "product__name", "competitor"]
    date_hierarchy = "observed_at"
    list_select_related = ["product"]
    raw_id_fields = ["product"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "starts_on", "ends_on"]
    list_filter = ["starts_on"]
    search_fields = ["name", "products__sku"]
    date_hierarchy = "starts_on"
    filter_horizontal = ["products"]


class _ReadOnly(admin.ModelAdmin):
    """What the forecasts, the pricing and the baskets produced, and what the gate did with it.

    Shown, never edited here: an alert is decided on the inventory page, a suggestion or a bundle
    in the review queue, so nothing reaches a supplier or the shop past the gate.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StockAlert)
class StockAlertAdmin(_ReadOnly):
    list_display = ["product", "level", "status", "risk", "stockout_on", "suggested_qty", "owner", "as_of"]
    list_filter = ["level", "status"]
    search_fields = ["product__sku", "product__name"]
    list_select_related = ["product", "owner"]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(_ReadOnly):
    list_display = ["pk", "product", "supplier", "quantity", "status", "created_at", "sent_at"]
    list_filter = ["status", "supplier"]
    search_fields = ["product__sku", "supplier__name", "to_email"]
    list_select_related = ["product", "supplier"]


@admin.register(PriceRule)
class PriceRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "product",
        "category",
        "strategy",
        "percent",
        "margin_floor_percent",
        "max_step_percent",
        "cooldown_days",
        "active",
    ]
    list_filter = ["active", "strategy", "category"]
    search_fields = ["name", "product__sku", "category"]
    list_select_related = ["product"]
    raw_id_fields = ["product"]


@admin.register(PriceSuggestion)
class PriceSuggestionAdmin(_ReadOnly):
    list_display = ["product", "current_price", "suggested_price", "currency", "change_percent", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["product__sku", "product__name"]
    list_select_related = ["product"]


@admin.register(PriceChange)
class PriceChangeAdmin(_ReadOnly):
    list_display = ["product", "old_price", "new_price", "currency", "source", "changed_at", "actor"]
    list_filter = ["source"]
    search_fields = ["product__sku"]
    list_select_related = ["product", "actor"]


@admin.register(Bundle)
class BundleAdmin(_ReadOnly):
    list_display = ["name", "status", "support", "confidence", "lift", "discount_percent", "published_at"]
    list_filter = ["status"]
    search_fields = ["name", "products__sku"]


@admin.register(NextPurchase)
class NextPurchaseAdmin(_ReadOnly):
    list_display = ["contact", "rank", "product", "score", "computed_at"]
    search_fields = ["contact__email", "product__sku"]
    list_select_related = ["contact", "product"]
    raw_id_fields = ["contact", "product"]

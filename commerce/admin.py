from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from commerce.models import CompetitorPrice, Order, OrderLine, Product, Promotion, StockLevel, Supplier


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

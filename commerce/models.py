"""The shop's catalogue, stock, orders, competitors' prices and promotions.

Money is stored the way every app stores it: a ``DecimalField`` amount beside an ISO 4217 code
checked by :func:`hitl_crm.money.validate_currency_code`; the ``*_money`` properties give the
:class:`hitl_crm.money.Money` value. Amounts keep up to three decimals (the most any currency has)
and ``clean()`` refuses more decimals than the currency's own minor unit.

State changes happen in ``commerce.services``; nothing here changes state in ``save()``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from hitl_crm.money import CURRENCIES, Money, validate_currency_code

SERVICE_LEVEL_MIN = Decimal("0.5")
SERVICE_LEVEL_MAX = Decimal("0.999")


def _check_minor_units(errors: dict[str, str], currency: str, **amounts: Decimal | None) -> None:
    """Add an error for each amount with more decimals than ``currency`` has (12.345 EUR)."""
    if currency not in CURRENCIES:
        return
    for name, amount in amounts.items():
        if amount is not None and not Money(amount, currency).fits_minor_units():
            errors.setdefault(name, f"{currency} has {CURRENCIES[currency]} decimals; {amount} has more.")


class Product(models.Model):
    """Something the shop sells, by its stock-keeping unit."""

    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The selling price, in the currency beside it.",
    )
    currency = models.CharField(max_length=3, validators=[validate_currency_code], help_text="ISO 4217 code, e.g. EUR.")
    unit_cost = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0))],
        null=True,
        blank=True,
        help_text="What one unit costs the shop, in the same currency.",
    )
    active = models.BooleanField(default=True, help_text="Still sold.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        indexes = [models.Index(fields=["category", "sku"], name="commerce_product_category")]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        _check_minor_units(errors, self.currency, price=self.price, unit_cost=self.unit_cost)
        if errors:
            raise ValidationError(errors)

    @property
    def price_money(self) -> Money:
        return Money(self.price, self.currency)

    @property
    def unit_cost_money(self) -> Money | None:
        return None if self.unit_cost is None else Money(self.unit_cost, self.currency)


class Supplier(models.Model):
    """Who the shop buys a product from; purchase orders go to ``email``."""

    name = models.CharField(max_length=200)
    email = models.EmailField(help_text="Where purchase orders are sent.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StockLevel(models.Model):
    """The stock of one product and how it is replenished."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="stock")
    on_hand = models.PositiveIntegerField(default=0, help_text="Units in the warehouse now.")
    on_order = models.PositiveIntegerField(default=0, help_text="Units ordered from the supplier, not received yet.")
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="stock_levels"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commerce_stock_levels",
        help_text="Who is told about shortfalls.",
    )
    lead_time_days = models.PositiveIntegerField(default=7, help_text="Days from ordering to receiving.")
    min_order_qty = models.PositiveIntegerField("minimum order quantity", default=1, validators=[MinValueValidator(1)])
    order_multiple = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Orders are placed in multiples of this (a case)."
    )
    service_level = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.950"),
        validators=[MinValueValidator(SERVICE_LEVEL_MIN), MaxValueValidator(SERVICE_LEVEL_MAX)],
        help_text="Target chance of not running out during a lead time, 0.5 to 0.999.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(service_level__gte=SERVICE_LEVEL_MIN, service_level__lte=SERVICE_LEVEL_MAX),
                name="commerce_stock_service_level_range",
            ),
            models.CheckConstraint(
                condition=Q(min_order_qty__gte=1, order_multiple__gte=1), name="commerce_stock_order_sizes"
            ),
        ]

    def __str__(self) -> str:
        return f"Stock of {self.product.sku}"


class Order(models.Model):
    """A customer's order, imported from a file or posted by a partner shop.

    ``external_id`` is the shop's own order id: posting or importing the same order again finds
    it instead of creating a second one.
    """

    class Source(models.TextChoices):
        CSV = "csv", "CSV import"
        API = "api", "API"
        ADMIN = "admin", "Admin"

    external_id = models.CharField(max_length=100, unique=True, help_text="The order's id in the shop.")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="commerce_orders"
    )
    customer_email = models.EmailField(blank=True, help_text="As the shop gave it (lower-case).")
    placed_at = models.DateTimeField()
    currency = models.CharField(max_length=3, validators=[validate_currency_code], help_text="ISO 4217 code, e.g. EUR.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["placed_at"], name="commerce_order_placed")]
        permissions = [("import_orders", "Can import orders from a CSV file")]

    def __str__(self) -> str:
        return f"Order {self.external_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines", db_index=False)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0))],
        help_text="In the order's currency.",
    )

    class Meta:
        ordering = ["order", "id"]
        indexes = [
            # A product's demand series: its lines, joined to their orders' placed_at.
            models.Index(fields=["product", "order"], name="commerce_line_product_order"),
        ]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="commerce_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} on order {self.order_id}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.order_id is not None:
            _check_minor_units(errors, self.order.currency, unit_price=self.unit_price)
        if errors:
            raise ValidationError(errors)


class CompetitorPrice(models.Model):
    """A price a competitor asked for one of our products, from a feed (CSV or the API).

    Everything here comes from outside — the competitor's name, the source and any text in
    them — and is data, never instructions: it is shown and compared, and whatever reads it
    (people or the AI) treats it as untrusted input.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="competitor_prices", db_index=False)
    competitor = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal(0))])
    shipping = models.DecimalField(
        max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal(0))], default=Decimal(0)
    )
    currency = models.CharField(max_length=3, validators=[validate_currency_code], help_text="ISO 4217 code, e.g. EUR.")
    observed_at = models.DateTimeField()
    source = models.CharField(max_length=300, blank=True, help_text="Where it was seen: a feed name or an address.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-observed_at", "-id"]
        indexes = [models.Index(fields=["product", "-observed_at"], name="commerce_cprice_product_seen")]

    def __str__(self) -> str:
        return f"{self.competitor}: {self.price} {self.currency}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        _check_minor_units(errors, self.currency, price=self.price, shipping=self.shipping)
        if errors:
            raise ValidationError(errors)

    @property
    def delivered_money(self) -> Money:
        """Price plus shipping: what a customer would pay the competitor."""
        return Money(self.price + self.shipping, self.currency)


class Promotion(models.Model):
    """A promotion window over some products (both days included)."""

    name = models.CharField(max_length=200)
    products = models.ManyToManyField(Product, related_name="promotions", blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_on", "id"]
        indexes = [models.Index(fields=["starts_on", "ends_on"], name="commerce_promotion_window")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="commerce_promotion_window_order")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "A promotion cannot end before it starts."})


class StockAlert(models.Model):
    """What the forecast says about one product's stock, raised by the beat task for its owner.

    One open alert per product at a time: a new run updates the open one. ``forecast`` holds
    what the chart draws (weekly history, forecast, interval, reorder point) and ``reasoning``
    says in plain words why the level was chosen. Accepting an alert drafts a purchase order.
    """

    class Level(models.TextChoices):
        ORDER_NOW = "order_now", "Order now"
        REORDER_SOON = "reorder_soon", "Reorder soon"
        OK = "ok", "OK"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        RESOLVED = "resolved", "Resolved"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_alerts")
    level = models.CharField(max_length=20, choices=Level.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="commerce_alerts"
    )
    as_of = models.DateField(help_text="The day the forecast was made.")
    risk = models.FloatField(default=0.0, help_text="Stock-out risk, 0–1: what the inventory page sorts by.")
    on_hand = models.IntegerField(default=0)
    on_order = models.IntegerField(default=0)
    reorder_point = models.FloatField(default=0.0)
    safety_stock = models.FloatField(default=0.0)
    suggested_qty = models.PositiveIntegerField(default=0)
    stockout_on = models.DateField(null=True, blank=True, help_text="When the stock runs out at the forecast rate.")
    model = models.CharField(max_length=40, blank=True, help_text="The forecasting model the backtest chose.")
    mase = models.FloatField(null=True, blank=True, help_text="Its backtest error against seasonal naive.")
    forecast = models.JSONField(default=dict, blank=True)
    reasoning = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-risk", "product__sku"]
        indexes = [models.Index(fields=["status", "-risk"], name="commerce_alert_status_risk")]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(status="open"), name="commerce_alert_one_open_per_product"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.product.sku}"


class PurchaseOrder(models.Model):
    """An e-mail to a supplier ordering stock: drafted from an alert, sent only once approved
    (``commerce.send_purchase_order``)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Awaiting approval"
        SENT = "sent", "Sent"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="purchase_orders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    alert = models.ForeignKey(
        StockAlert, null=True, blank=True, on_delete=models.SET_NULL, related_name="purchase_orders"
    )
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    to_email = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    approval_request_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    execution_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="commerce_po_quantity_positive")]

    def __str__(self) -> str:
        return f"PO {self.pk}: {self.quantity} × {self.product.sku}"


class PriceRule(models.Model):
    """How a product's (or a category's) price follows the competitors'.

    A rule applies to one product, else to a category, else (neither set) to every product;
    the most specific active rule wins. Suggestions never go below the margin floor, never
    move more than ``max_step_percent`` at once, ignore gaps inside the hysteresis band and
    wait ``cooldown_days`` after a change.
    """

    class Strategy(models.TextChoices):
        MATCH_LOWEST = "match_lowest", "Match the lowest competitor"
        BEAT_BY = "beat_by", "Beat the lowest competitor by a percentage"
        KEEP_POSITION = "keep_position", "Keep a position against the competitors' average"

    class Rounding(models.TextChoices):
        NONE = "none", "No rounding"
        NINETY_NINE = "99", "End in .99"
        NINETY_FIVE = "95", "End in .95"
        WHOLE = "whole", "Whole units"

    name = models.CharField(max_length=120)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="price_rules")
    category = models.CharField(max_length=100, blank=True, help_text="Applies to this category (no product set).")
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.MATCH_LOWEST)
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(-50)), MaxValueValidator(Decimal(50))],
        help_text="Beat by: how far under the lowest. Keep a position: how far above (+) or under (−) the average.",
    )
    margin_floor_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(10),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(95))],
        help_text="Never suggest a price whose margin over unit cost is below this.",
    )
    max_step_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(10),
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal(100))],
        help_text="The most one suggestion may move the price.",
    )
    hysteresis_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(2),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(50))],
        help_text="Gaps smaller than this are left alone (no flip-flopping).",
    )
    cooldown_days = models.PositiveIntegerField(default=7, help_text="Days to wait after a price change.")
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.NINETY_NINE)
    use_elasticity = models.BooleanField(
        default=False, help_text="Estimate the expected effect from this shop's own price and sales history."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.product_id is not None and self.category:
            raise ValidationError({"category": "A rule is for one product or for a category, not both."})


class PriceSuggestion(models.Model):
    """A suggested new price, explained; decided through ``commerce.change_price``."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"
        FAILED = "failed", "Failed"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="price_suggestions")
    rule = models.ForeignKey(PriceRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestions")
    current_price = models.DecimalField(max_digits=14, decimal_places=3)
    suggested_price = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    change_percent = models.FloatField(help_text="Signed change from the current price, in percent.")
    margin_after_percent = models.FloatField(null=True, blank=True)
    competitors = models.JSONField(default=list, blank=True, help_text="The competitor prices seen (data).")
    expected_effect = models.JSONField(default=dict, blank=True)
    reasoning = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    approval_request_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="commerce_psugg_status")]

    def __str__(self) -> str:
        return f"{self.product.sku}: {self.current_price} → {self.suggested_price} {self.currency}"


class PriceChange(models.Model):
    """One change of a product's price: the price history the product page draws."""

    class Source(models.TextChoices):
        SUGGESTION = "suggestion", "Approved suggestion"
        ADMIN = "admin", "Admin"
        IMPORT = "import", "Import"
        DEMO = "demo", "Demo data"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="price_changes")
    old_price = models.DecimalField(max_digits=14, decimal_places=3)
    new_price = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    changed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ADMIN)
    suggestion = models.ForeignKey(
        PriceSuggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    execution_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["product", "-changed_at"], name="commerce_pchange_product")]

    def __str__(self) -> str:
        return f"{self.product.sku}: {self.old_price} → {self.new_price}"


class Bundle(models.Model):
    """Products sold together, found in the baskets (association rules) and curated by staff.

    Published only through ``commerce.publish_bundle``; the shop reads published bundles
    from the API.
    """

    class Status(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        PENDING = "pending", "Awaiting approval"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    products = models.ManyToManyField(Product, related_name="bundles")
    discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(50))],
    )
    support = models.FloatField(default=0.0, help_text="Share of baskets holding all of them.")
    confidence = models.FloatField(default=0.0)
    lift = models.FloatField(default=0.0)
    signature = models.CharField(
        max_length=200, db_index=True, help_text="The sorted product ids, so a rule is not suggested twice."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUGGESTED)
    approval_request_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    execution_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-lift", "-id"]
        indexes = [models.Index(fields=["status", "-lift"], name="commerce_bundle_status_lift")]

    def __str__(self) -> str:
        return self.name


class NextPurchase(models.Model):
    """A product a contact is likely to buy next, from the baskets (rank 1 is the likeliest)."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="commerce_next_purchases")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    reason = models.CharField(max_length=300, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["contact", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "product"], name="commerce_next_purchase_unique"),
            models.UniqueConstraint(fields=["contact", "rank"], name="commerce_next_purchase_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.product_id} (#{self.rank})"

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

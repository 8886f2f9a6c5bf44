"""factory-boy factories for the commerce app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from commerce.models import CompetitorPrice, Order, OrderLine, Product, Promotion, StockLevel, Supplier


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Kitchen"
    price = Decimal("19.99")
    currency = "EUR"
    unit_cost = Decimal("8.50")


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Supplier {n}")
    email = factory.Sequence(lambda n: f"orders{n}@supplier.example")


class StockLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLevel

    product = factory.SubFactory(ProductFactory)
    supplier = factory.SubFactory(SupplierFactory)
    on_hand = 40
    on_order = 0


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"NW-{n:05d}")
    placed_at = factory.LazyFunction(timezone.now)
    currency = "EUR"


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = Decimal("19.99")


class CompetitorPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompetitorPrice

    product = factory.SubFactory(ProductFactory)
    competitor = "Rival Shop"
    price = Decimal("18.49")
    shipping = Decimal("4.90")
    currency = "EUR"
    observed_at = factory.LazyFunction(timezone.now)
    source = "rival-feed.csv"


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    name = "Spring sale"
    starts_on = date(2025, 3, 1)
    ends_on = date(2025, 3, 31)

"""What the catalogue, stock, orders and promotions accept and refuse."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from commerce.models import Product
from hitl_crm.money import Money
from tests.commerce.factories import (
    CompetitorPriceFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    PromotionFactory,
    StockLevelFactory,
)

pytestmark = pytest.mark.django_db


def test_a_product_price_is_money_in_its_currency():
    product = ProductFactory(price=Decimal("1200"), currency="USD")
    assert product.price_money == Money(Decimal("1200"), "USD")
    assert str(product.price_money) == "1,200.00 USD"
    assert product.unit_cost_money == Money(Decimal("8.50"), "USD")


def test_a_price_with_more_decimals_than_its_currency_is_refused():
    product = ProductFactory.build(price=Decimal("12.345"), currency="EUR")
    with pytest.raises(ValidationError) as exc:
        product.full_clean()
    assert "price" in exc.value.message_dict
    ProductFactory.build(sku="KW-1", price=Decimal("12.345"), currency="KWD").full_clean()  # KWD has 3


def test_an_unknown_currency_is_refused():
    with pytest.raises(ValidationError) as exc:
        ProductFactory.build(currency="XYZ").full_clean()
    assert "currency" in exc.value.message_dict


def test_skus_are_unique():
    ProductFactory(sku="MUG-1")
    with pytest.raises(ValidationError):
        ProductFactory.build(sku="MUG-1").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(sku="MUG-1", name="Again", price=Decimal(1), currency="EUR")


@pytest.mark.parametrize("level", ["0.5", "0.95", "0.999"])
def test_service_levels_between_half_and_0_999_are_accepted(level):
    StockLevelFactory.build(product=ProductFactory(), supplier=None, service_level=Decimal(level)).full_clean()


@pytest.mark.parametrize("level", ["0.49", "1", "0"])
def test_service_levels_outside_the_range_are_refused(level):
    stock = StockLevelFactory.build(product=ProductFactory(), supplier=None, service_level=Decimal(level))
    with pytest.raises(ValidationError) as exc:
        stock.full_clean()
    assert "service_level" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        stock.save()


def test_one_stock_level_per_product():
    stock = StockLevelFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevelFactory(product=stock.product)


def test_order_external_ids_are_unique():
    OrderFactory(external_id="NW-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(external_id="NW-1")


def test_an_order_line_needs_a_positive_quantity():
    line = OrderLineFactory.build(order=OrderFactory(), product=ProductFactory(), quantity=0)
    with pytest.raises(ValidationError) as exc:
        line.full_clean()
    assert "quantity" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


def test_an_order_line_price_follows_its_orders_currency():
    line = OrderLineFactory.build(
        order=OrderFactory(currency="JPY"), product=ProductFactory(), unit_price=Decimal("9.5")
    )
    with pytest.raises(ValidationError) as exc:
        line.full_clean()
    assert "unit_price" in exc.value.message_dict


def test_a_competitor_price_delivered_includes_shipping():
    price = CompetitorPriceFactory(price=Decimal("18.49"), shipping=Decimal("4.90"))
    assert price.delivered_money == Money(Decimal("23.39"), "EUR")


def test_a_promotion_cannot_end_before_it_starts():
    promotion = PromotionFactory.build(starts_on=date(2025, 3, 10), ends_on=date(2025, 3, 9))
    with pytest.raises(ValidationError) as exc:
        promotion.full_clean()
    assert "ends_on" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        promotion.save()
    PromotionFactory.build(starts_on=date(2025, 3, 10), ends_on=date(2025, 3, 10)).full_clean()  # one day


def test_a_promotion_covers_products():
    mug, cup = ProductFactory(), ProductFactory()
    promotion = PromotionFactory()
    promotion.products.set([mug, cup])
    assert set(mug.promotions.all()) == {promotion}

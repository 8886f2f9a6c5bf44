"""Reads for the shop: the product list and a product's weekly demand."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from commerce.selectors import demand_series, product_list
from tests.commerce.factories import OrderFactory, OrderLineFactory, ProductFactory, StockLevelFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TODAY = date(2025, 3, 19)  # a Wednesday; the week running started on Monday 17 March


def order_on(product, day: date, quantity: int, hour: int = 12):
    placed = datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())
    return OrderLineFactory(order=OrderFactory(placed_at=placed), product=product, quantity=quantity)


def test_demand_is_weekly_oldest_first_with_empty_weeks_as_zero(sales_rep):
    mug, cup = ProductFactory(), ProductFactory()
    order_on(mug, date(2025, 2, 24), 3)  # Monday, 3 weeks before the running week
    order_on(mug, date(2025, 3, 2), 2, hour=23)  # Sunday of that same week
    order_on(mug, date(2025, 3, 10), 5)  # last whole week
    order_on(mug, date(2025, 3, 17), 7)  # the running week: not counted yet
    order_on(mug, date(2025, 1, 1), 9)  # before the series
    order_on(cup, date(2025, 3, 10), 4)  # another product

    series = demand_series(user=sales_rep, product=mug, weeks=4, until=TODAY)

    assert series == [0, 5, 0, 5]


def test_lines_of_one_order_add_up(sales_rep):
    mug = ProductFactory()
    line = order_on(mug, date(2025, 3, 11), 2)
    OrderLineFactory(order=line.order, product=mug, quantity=3)
    assert demand_series(user=sales_rep, product=mug, weeks=2, until=TODAY) == [0, 5]


def test_a_product_never_ordered_has_a_series_of_zeros(sales_rep):
    assert demand_series(user=sales_rep, product=ProductFactory(), weeks=3, until=TODAY) == [0, 0, 0]


def test_demand_needs_the_permission_to_see_orders():
    with pytest.raises(PermissionDenied):
        demand_series(user=UserFactory(username="someone"), product=ProductFactory(), weeks=4)


def test_product_list_shows_products_with_their_stock_to_those_who_may_see_them(sales_rep, django_assert_num_queries):
    StockLevelFactory(product=ProductFactory(sku="B-2"))
    StockLevelFactory(product=ProductFactory(sku="A-1"))
    products = product_list(user=sales_rep)
    with django_assert_num_queries(1):
        rows = [(p.sku, p.stock.on_hand, p.stock.supplier.name) for p in products]
    assert [sku for sku, _, _ in rows] == ["A-1", "B-2"]
    assert not product_list(user=UserFactory(username="someone")).exists()

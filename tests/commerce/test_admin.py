"""Admin pages for the shop's data open for a superuser."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.commerce.factories import (
    CompetitorPriceFactory,
    OrderLineFactory,
    PromotionFactory,
    StockLevelFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ["product", "supplier", "stocklevel", "order", "competitorprice", "promotion"]


@pytest.fixture
def data():
    stock = StockLevelFactory()
    line = OrderLineFactory(product=stock.product)
    CompetitorPriceFactory(product=stock.product)
    PromotionFactory().products.add(stock.product)
    return {"product": stock.product, "order": line.order}


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load(client, admin_user, data, model):
    client.force_login(admin_user)
    response = client.get(reverse(f"admin:commerce_{model}_changelist"))
    assert response.status_code == 200
    response = client.get(reverse(f"admin:commerce_{model}_changelist"), {"q": "SKU"})
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_add_pages_load(client, admin_user, model):
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:commerce_{model}_add")).status_code == 200


def test_product_page_shows_its_stock_and_order_page_its_lines(client, admin_user, data):
    client.force_login(admin_user)
    product_page = client.get(reverse("admin:commerce_product_change", args=[data["product"].pk]))
    assert product_page.status_code == 200
    assert "Stock level" in product_page.content.decode()
    order_page = client.get(reverse("admin:commerce_order_change", args=[data["order"].pk]))
    assert order_page.status_code == 200
    assert "Order lines" in order_page.content.decode()

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

MODELS = ["product", "supplier", "stocklevel", "order", "competitorprice", "promotion", "pricerule"]
READ_ONLY = ["stockalert", "purchaseorder", "pricesuggestion", "pricechange", "bundle", "nextpurchase"]


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


@pytest.mark.parametrize("model", READ_ONLY)
def test_what_the_gate_decides_is_shown_but_cannot_be_added_in_admin(client, admin_user, data, model):
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:commerce_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:commerce_{model}_add")).status_code == 403


def test_a_price_edited_in_admin_lands_in_the_price_history(client, admin_user, data):
    from commerce.models import PriceChange

    product = data["product"]
    client.force_login(admin_user)
    url = reverse("admin:commerce_product_change", args=[product.pk])
    form = client.get(url).context["adminform"].form
    post = {k: ("" if v is None else v) for k, v in form.initial.items() if k not in {"created_at", "updated_at"}}
    post.update({"price": "21.49", "active": "on"})
    post.update(
        {
            "stock-TOTAL_FORMS": "1",
            "stock-INITIAL_FORMS": "1",
            "stock-MIN_NUM_FORMS": "0",
            "stock-MAX_NUM_FORMS": "1",
            "stock-0-id": str(product.stock.pk),
            "stock-0-product": str(product.pk),
            "stock-0-on_hand": "40",
            "stock-0-on_order": "0",
            "stock-0-lead_time_days": "7",
            "stock-0-min_order_qty": "1",
            "stock-0-order_multiple": "1",
            "stock-0-service_level": "0.950",
            "stock-0-supplier": str(product.stock.supplier_id),
        }
    )
    response = client.post(url, post)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    change = PriceChange.objects.get(product=product)
    assert (str(change.old_price), str(change.new_price), change.source) == ("19.990", "21.490", "admin")

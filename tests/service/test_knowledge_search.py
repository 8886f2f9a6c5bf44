"""The articles a draft gets to read: found by what the customer asks about, not by the order
number, the amount or the date in the message, and by what an article is about (its title)."""

from __future__ import annotations

import pytest

from service.services import knowledge_search

pytestmark = pytest.mark.django_db


def _titles(text: str) -> list[str]:
    return [article.title for article in knowledge_search(text)]


def test_a_refund_claim_finds_the_refund_policy_among_articles_that_share_its_product_words(knowledge):
    titles = _titles(
        "Refund for 200 sleeping bags\nWe ordered 200 sleeping bags for our lodges on November 15, 2026 "
        "(order PO-55821) and every one is the wrong temperature rating. We expect a full refund of $24,000."
    )

    assert "Refund policy" in titles


def test_an_order_that_has_not_arrived_finds_the_tracking_article_first(knowledge):
    titles = _titles("Order not arrived yet\nMy order NW-21060 hasn't arrived yet and it's been 8 working days.")

    assert titles[0] == "Delivery times and tracking"


def test_order_numbers_amounts_and_dates_alone_find_nothing(knowledge):
    assert _titles("NW-21060 $24,000 November 15, 2026 8 working days") == []

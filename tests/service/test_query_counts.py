"""The desk's list pages and API lists cost the same queries for N and N+1 rows (no N+1 in a template)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from service.models import KnowledgeArticle, RefundRequest
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(support_agent) -> APIClient:
    client = APIClient()
    client.force_authenticate(support_agent)
    return client


@pytest.fixture
def flagged(make_case, support_agent):
    """A case that needs a person, from a contact at an account, owned by the agent (a row shows all three)."""

    def make():
        return make_case(
            contact=ContactFactory(account=AccountFactory()),
            owner=support_agent,
            risk="high",
            needs_human=True,
            needs_human_reason="The customer asks for a manager.",
        )

    return make


def _article(n: int, author) -> KnowledgeArticle:
    return KnowledgeArticle.objects.create(
        title=f"Returns rule {n}", slug=f"returns-{n}", body="Returns within 30 days.", tags="returns", author=author,
        published=True,
    )  # fmt: skip


def _refund(case) -> RefundRequest:
    return RefundRequest.objects.create(case=case, amount=Decimal("25.00"), recommendation="approve", reason="Broken")


def test_the_needs_a_person_page_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, flagged, django_assert_num_queries
):
    # given: three flagged cases
    for _ in range(3):
        flagged()
    client.force_login(support_agent)
    client.get("/service/needs-human/")  # warm the content-type and permission caches

    # when / then (9): session, user, user permissions, group permissions, the active intent model and the
    # known intents (the filter's choices), the count, the user's groups for the top bar, the page of cases
    # with contact, account and owner joined
    with django_assert_num_queries(9):
        client.get("/service/needs-human/")
    newest = flagged()
    with django_assert_num_queries(9):
        html = client.get("/service/needs-human/").content.decode()
    assert newest.subject in html
    assert "The customer asks for a manager." in html


def test_the_knowledge_base_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, django_assert_num_queries
):
    for n in range(3):
        _article(n, support_agent)
    client.force_login(support_agent)
    client.get("/service/kb/")

    # when / then (8): session, user, user permissions, group permissions, the count, the tags of every
    # article (one query), the user's groups for the top bar, the page of articles
    with django_assert_num_queries(8):
        client.get("/service/kb/")
    _article(3, support_agent)
    with django_assert_num_queries(8):
        html = client.get("/service/kb/").content.decode()
    assert "Returns rule 3" in html
    assert "4 articles" in html


def test_the_article_list_costs_the_same_queries_for_n_and_n_plus_one(api, support_agent, django_assert_num_queries):
    for n in range(3):
        _article(n, support_agent)
    api.get("/api/v1/articles/")

    # (2): the count and the page of articles; authentication is forced, so no session or user query
    with django_assert_num_queries(2):
        api.get("/api/v1/articles/")
    _article(3, support_agent)
    with django_assert_num_queries(2):
        body = api.get("/api/v1/articles/").json()
    assert "Returns rule 3" in [a["title"] for a in body["results"]]


def test_the_message_list_costs_the_same_queries_for_n_and_n_plus_one(api, flagged, django_assert_num_queries):
    for _ in range(3):
        flagged()
    api.get("/api/v1/messages/")

    # (1): the page of messages with the case joined (cursor pagination, so no count)
    with django_assert_num_queries(1):
        api.get("/api/v1/messages/")
    newest = flagged()
    with django_assert_num_queries(1):
        body = api.get("/api/v1/messages/").json()
    assert body["results"][0]["case"] == newest.pk


def test_the_refund_list_costs_the_same_queries_for_n_and_n_plus_one(api, flagged, django_assert_num_queries):
    for _ in range(3):
        _refund(flagged())
    api.get("/api/v1/refunds/")

    # (1): the page of refunds with the case joined (cursor pagination, so no count)
    with django_assert_num_queries(1):
        api.get("/api/v1/refunds/")
    newest = _refund(flagged())
    with django_assert_num_queries(1):
        body = api.get("/api/v1/refunds/").json()
    assert body["results"][0]["id"] == newest.pk
    assert body["results"][0]["amount"] == "25.00"


def test_the_needs_a_person_list_refreshed_by_htmx_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, flagged, django_assert_num_queries
):
    for _ in range(3):
        flagged()
    client.force_login(support_agent)
    client.get("/service/needs-human/", HTTP_HX_REQUEST="true")

    # (8): the full page's queries without the top bar's groups: session, user, user permissions, group
    # permissions, the active intent model, the known intents, the count, the page of cases (joined)
    with django_assert_num_queries(8):
        client.get("/service/needs-human/", HTTP_HX_REQUEST="true")
    newest = flagged()
    with django_assert_num_queries(8):
        html = client.get("/service/needs-human/", HTTP_HX_REQUEST="true").content.decode()
    assert newest.subject in html
    assert "<html" not in html

"""The service desk API: scoped to what the caller may see (404 otherwise), cursor-paginated,
writes through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from approvals.models import ApprovalRequest
from service.models import RefundRequest
from service.routing import ISSUE_REFUND
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.service.urls_for_tests")]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("count", [3, 13])
def test_listing_cases_costs_the_same_for_any_number(support_agent, make_case, django_assert_num_queries, count):
    for _ in range(count):
        make_case()
    api = client_for(support_agent)

    # the user's permissions (2) and one page of cases with contact, account and owner joined
    with django_assert_num_queries(3):
        response = api.get("/api/v1/cases/", {"page_size": 10})

    data = response.json()
    assert response.status_code == 200
    assert len(data["results"]) == min(count, 10)
    assert (data["next"] is not None) == (count > 10)
    assert set(data["results"][0]) >= {"intent", "sentiment", "risk", "flags", "summary", "needs_human", "contact"}


def test_cases_are_scoped_to_what_the_caller_may_see(sales_rep, make_case):
    mine = make_case(contact=ContactFactory(owner=sales_rep))
    other = make_case()
    api = client_for(sales_rep)

    assert [c["id"] for c in api.get("/api/v1/cases/").json()["results"]] == [mine.pk]
    assert api.get(f"/api/v1/cases/{other.pk}/").status_code == 404
    assert api.patch(f"/api/v1/cases/{mine.pk}/", {"status": "closed"}, format="json").status_code == 403


def test_agents_update_status_and_correct_triage(support_agent, make_case):
    case = make_case(intent="other")
    api = client_for(support_agent)

    closed = api.patch(f"/api/v1/cases/{case.pk}/", {"status": "resolved"}, format="json")
    corrected = api.post(
        f"/api/v1/cases/{case.pk}/triage/", {"intent": "track_order", "sentiment": -0.7}, format="json"
    )
    bad = api.post(f"/api/v1/cases/{case.pk}/triage/", {"sentiment": 3}, format="json")

    assert closed.status_code == 200
    assert closed.json()["status"] == "resolved"
    assert closed.json()["resolved_at"]
    assert corrected.status_code == 200
    assert (corrected.json()["intent"], corrected.json()["intent_source"]) == ("track_order", "human")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "sentiment"


def test_messages_of_a_case(support_agent, sales_rep, make_case, django_assert_num_queries):
    case = make_case()
    make_case()
    api = client_for(support_agent)

    # permissions (2), the case filter's lookup of the case, one page of messages
    with django_assert_num_queries(4):
        response = api.get("/api/v1/messages/", {"case": case.pk})

    assert [m["case"] for m in response.json()["results"]] == [case.pk]
    assert client_for(sales_rep).get("/api/v1/messages/").status_code == 403  # reps read cases, not mail


def test_articles_are_written_through_the_service(support_agent):
    api = client_for(support_agent)

    created = api.post(
        "/api/v1/articles/",
        {"title": "Gift cards", "body": "Gift cards never expire.", "tags": ["Gift", "payment"], "published": True},
        format="json",
    )
    listed = api.get("/api/v1/articles/", {"search": "gift"})

    assert created.status_code == 201
    assert created.json()["tags"] == ["gift", "payment"]
    assert created.json()["slug"] == "gift-cards"
    assert created.json()["last_reviewed_at"]
    assert [a["title"] for a in listed.json()["results"]] == ["Gift cards"]


def test_an_agent_proposes_a_refund_which_waits_for_approval(desk, support_agent, make_case, sales_rep):
    case = make_case(intent="get_refund")
    api = client_for(support_agent)

    response = api.post("/api/v1/refunds/", {"case": case.pk, "amount": "42.50", "order_ref": "nw-77"}, format="json")

    assert response.status_code == 201
    refund = RefundRequest.objects.get(pk=response.json()["id"])
    assert (refund.amount, refund.currency, refund.order_ref, refund.status) == (
        Decimal("42.50"),
        "USD",
        "NW-77",
        "proposed",
    )
    req = ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(refund.pk))
    assert req.requested_by == support_agent
    assert req.status == "pending"
    assert api.get(f"/api/v1/refunds/{refund.pk}/").json()["recommendation"] == "escalate"
    # a case the caller cannot see is not a valid choice
    hidden = make_case()
    rep = client_for(sales_rep)
    assert rep.post("/api/v1/refunds/", {"case": hidden.pk, "amount": "5"}, format="json").status_code == 403
    second = api.post("/api/v1/refunds/", {"case": case.pk, "amount": "0"}, format="json")
    assert second.status_code == 400
    assert second.json()["errors"][0]["field"] == "amount"


def test_the_schema_documents_the_service_endpoints(admin_user):
    response = client_for(admin_user).get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    for path in (
        "/api/v1/cases/",
        "/api/v1/cases/{id}/triage/",
        "/api/v1/messages/",
        "/api/v1/articles/",
        "/api/v1/refunds/",
        "/api/v1/inbound/",
    ):
        assert path in paths

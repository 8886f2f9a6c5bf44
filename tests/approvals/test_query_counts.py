"""The review queue, its badge, analytics and the API list cost the same queries for N and N+1 requests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from approvals.services import approval_decide
from hitl_crm.ai.models import AiRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def ai_run(db) -> AiRun:
    return AiRun.objects.create(skill="draft_reply", backend="offline", model_name="tfidf", prompt_version="v1")


@pytest.fixture
def add_request(make_email_request, make_user, ai_run):
    """A pending email request drafted by the AI for a rep's contact: a queue row shows all of these."""

    def add():
        return make_email_request(ai_run=ai_run, requested_by=make_user("Sales rep"))

    return add


def test_the_queue_page_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, add_request, django_assert_num_queries
):
    # given: three requests waiting for a support agent
    for _ in range(3):
        add_request()
    client.force_login(support_agent)
    client.get("/approvals/")  # warm the content-type and permission caches

    # when / then (10): session, user, the keyset pager's probe for any match (LIMIT 1), the page of
    # requests (their ids found on the queue's index, then policy, requester, AI run and content type
    # joined), their approvals counts, their subjects (one prefetch), the "waiting for you" count, user
    # permissions, group permissions, the user's groups for the top bar
    with django_assert_num_queries(10):
        client.get("/approvals/")
    newest = add_request()
    with django_assert_num_queries(10):
        html = client.get("/approvals/").content.decode()
    assert f"/approvals/{newest.pk}/" in html
    assert "4 waiting for you" in html


def test_the_badge_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, add_request, django_assert_num_queries
):
    for _ in range(3):
        add_request()
    client.force_login(support_agent)
    client.get("/approvals/badge/")

    # (3): session, user, one capped count of what waits for this user
    with django_assert_num_queries(3):
        client.get("/approvals/badge/")
    add_request()
    with django_assert_num_queries(3):
        response = client.get("/approvals/badge/")
    assert response.content.decode() == "4"


def test_analytics_costs_the_same_queries_for_n_and_n_plus_one_decisions(
    client, manager, support_agent, add_request, django_assert_num_queries, django_capture_on_commit_callbacks
):
    def decided():
        req = add_request()
        with django_capture_on_commit_callbacks(execute=False):
            approval_decide(
                request_id=req.pk,
                reviewer=support_agent,
                verdict="reject",
                payload_hash=req.payload_hash,
                reason="policy",
            )

    for _ in range(3):
        decided()
    client.force_login(manager)
    for by in ("action", "reviewer"):
        client.get("/approvals/analytics/", {"by": by})

    # (13): session, user, user permissions, group permissions, the daily series (decisions, approvals,
    # edit ratio, requests created, requests decided, the backlog at the window's start, SLA breaches),
    # the decisions grouped by reviewer (one query), the user's groups for the top bar
    with django_assert_num_queries(13):
        client.get("/approvals/analytics/", {"by": "reviewer"})
    decided()
    with django_assert_num_queries(13):
        html = client.get("/approvals/analytics/", {"by": "reviewer"}).content.decode()
    assert support_agent.username in html


def test_the_api_queue_costs_the_same_queries_for_n_and_n_plus_one(
    support_agent, add_request, django_assert_num_queries
):
    for _ in range(3):
        add_request()
    api = APIClient()
    api.force_authenticate(support_agent)
    api.get("/api/v1/approvals/")

    # (2): the page of the queue (policy, requester, AI run, content type joined; cursor pagination, so
    # no count) and the subjects in one prefetch; authentication is forced, so no session or user query
    with django_assert_num_queries(2):
        api.get("/api/v1/approvals/")
    newest = add_request()
    with django_assert_num_queries(2):
        body = api.get("/api/v1/approvals/").json()
    assert newest.pk in [row["id"] for row in body["results"]]
    assert {row["requested_by"] for row in body["results"]} != {None}


def test_the_queue_refreshed_by_htmx_costs_the_same_queries_for_n_and_n_plus_one(
    client, support_agent, add_request, django_assert_num_queries
):
    # given: the results part of the queue, as the filters and pager reload it
    for _ in range(3):
        add_request()
    client.force_login(support_agent)
    client.get("/approvals/", HTTP_HX_REQUEST="true")

    # (9): the full page's queries without the top bar's groups: session, user, the pager's probe, the page
    # of requests, their approvals counts, their subjects, the waiting count, user permissions, group
    # permissions
    with django_assert_num_queries(9):
        client.get("/approvals/", HTTP_HX_REQUEST="true")
    newest = add_request()
    with django_assert_num_queries(9):
        html = client.get("/approvals/", HTTP_HX_REQUEST="true").content.decode()
    assert f"/approvals/{newest.pk}/" in html
    assert "<html" not in html  # only the results part

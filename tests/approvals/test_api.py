"""The approvals API: the caller's queue, 404 for what they may not see, the same decision rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from approvals.models import ApprovalRequest, Decision
from hitl_crm.ai.models import AiRun
from tests.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]
BASE = "/api/v1/approvals/"


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_callers_are_refused(make_email_request):
    req = make_email_request()
    assert APIClient().get(BASE).status_code in (401, 403)
    assert APIClient().get(f"{BASE}{req.pk}/").status_code in (401, 403)


def test_list_is_the_callers_queue(make_email_request, agent, sales_rep):
    mine = [make_email_request() for _ in range(3)]
    response = client_for(agent).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [r.pk for r in mine]
    row = body["results"][0]
    assert row["action"] == "approvals.notify_email"
    assert row["action_label"] == "Email a contact"
    assert row["subject"]["type"] == "contacts.contact"
    assert row["subject"]["label"] == str(mine[0].subject)
    assert row["policy"] == "Email"
    assert row["approvals_count"] == 0
    assert client_for(sales_rep).get(BASE).json()["results"] == []


def test_list_is_cursor_paginated(make_email_request, agent):
    ids = [make_email_request().pk for _ in range(5)]
    client = client_for(agent)
    first = client.get(BASE, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert [r["id"] for r in first["results"]] + [r["id"] for r in second["results"]] == ids[:4]


def test_a_request_the_caller_may_not_see_is_404_never_403(make_email_request, sales_rep, agent):
    # given: a request routed to agents, and ids that do not exist
    req = make_email_request()
    client = client_for(sales_rep)
    # then: the outsider cannot tell an existing request from a missing one
    for pk in (req.pk, req.pk + 1000):
        assert client.get(f"{BASE}{pk}/").status_code == 404
        assert client.get(f"{BASE}{pk}/history/").status_code == 404
        assert client.post(f"{BASE}{pk}/decide/", {"verdict": "approve"}).status_code == 404
    assert not Decision.objects.exists()
    # and the routed reviewer sees it
    assert client_for(agent).get(f"{BASE}{req.pk}/").status_code == 200


def test_retrieve_shows_the_payload_and_whether_the_caller_may_decide(make_email_request, agent):
    req = make_email_request(requested_by=agent)
    body = client_for(agent).get(f"{BASE}{req.pk}/").json()
    assert body["final"] == req.final
    assert body["editable_fields"] == ["subject", "body"]
    assert body["can_decide"] == {"allowed": False, "reason": "You asked for this; another reviewer must decide it."}


def test_decide_approves_with_edits_through_the_same_service(make_email_request, agent, on_commit):
    req = make_email_request()
    with on_commit():
        response = client_for(agent).post(
            f"{BASE}{req.pk}/decide/",
            {"verdict": "approve_with_edits", "edits": {"subject": "Shipped today"}, "comment": "shorter"},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"  # executed after commit
    assert ApprovalRequest.objects.get(pk=req.pk).status == "executed"
    decision = Decision.objects.get(request=req)
    assert decision.reviewer == agent
    assert decision.diff["subject"]["after"] == "Shipped today"


def test_decide_errors_name_the_field_or_explain_the_refusal(make_email_request, make_refund, agent, make_user):
    req = make_email_request()
    client = client_for(agent)
    # 400 naming the field: a reject without a reason, an edit of a locked field, a bad verdict
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "reject"}, format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "reason"
    r = client.post(
        f"{BASE}{req.pk}/decide/", {"verdict": "approve_with_edits", "edits": {"to": "x@evil.example"}}, format="json"
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "to", "message": "This field cannot be edited.", "code": "invalid"}]
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "maybe"}, format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "verdict"
    # 403: above the caller's authority
    refund = make_refund("900.00")
    r = client.post(f"{BASE}{refund.pk}/decide/", {"verdict": "approve"}, format="json")
    assert r.status_code == 403
    assert "approval limit" in r.json()["detail"]
    # 409: decided already
    client.post(f"{BASE}{req.pk}/decide/", {"verdict": "reject", "reason": "tone"}, format="json")
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "approve"}, format="json")
    assert r.status_code == 409
    assert "can no longer be decided" in r.json()["detail"]
    # 403: segregation of duties
    own = make_email_request(requested_by=agent)
    r = client.post(f"{BASE}{own.pk}/decide/", {"verdict": "approve"}, format="json")
    assert r.status_code == 403
    assert ApprovalRequest.objects.get(pk=own.pk).status == "pending"


def test_history_returns_decisions_and_audit(make_email_request, agent):
    req = make_email_request()
    client = client_for(agent)
    client.post(f"{BASE}{req.pk}/decide/", {"verdict": "reject", "reason": "policy", "comment": "no"}, format="json")
    body = client.get(f"{BASE}{req.pk}/history/").json()
    assert [d["verdict"] for d in body["decisions"]] == ["reject"]
    assert body["decisions"][0]["reviewer"] == "agent1"
    assert [e["verb"] for e in body["audit"]] == ["created", "decided"]


def test_list_makes_the_same_queries_for_10_and_100_items(email_policy, agent):
    from approvals.services import approval_request_create

    def add(n):
        for i in range(n):
            contact = ContactFactory()
            approval_request_create(
                action="approvals.notify_email",
                subject=contact,
                proposal={"to": contact.email, "subject": f"Hello {i}", "body": "Body"},
                ai_run=AiRun.objects.create(skill="draft", backend="offline", model_name="m", prompt_version="v"),
                requested_by=UserFactory(),
                confidence=0.8,
            )

    def list_queries(expected_rows):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(BASE, {"page_size": 200})
        assert len(response.json()["results"]) == expected_rows
        return [q["sql"] for q in queries]

    client = client_for(agent)
    add(10)
    with_10 = list_queries(10)
    add(90)
    with_100 = list_queries(100)
    # 1. the queue page: requests joined with policy, requester, AI run, content type; approvals counted
    # 2. the subjects (contacts), one query for the page
    assert len(with_10) == len(with_100) == 2, with_100

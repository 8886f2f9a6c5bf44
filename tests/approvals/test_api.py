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
    # given: a request that carries a customer's address and the email's text
    req = make_email_request()
    anonymous = APIClient()

    # when: someone without credentials lists, opens and tries to approve it
    listing = anonymous.get(BASE)
    detail = anonymous.get(f"{BASE}{req.pk}/")
    decided = anonymous.post(
        f"{BASE}{req.pk}/decide/", {"verdict": "approve", "payload_hash": req.payload_hash}, format="json"
    )

    # then: refused, with nothing of the request in the answer, and nothing decided
    for response in (listing, detail, decided):
        assert response.status_code in (401, 403)
        body = response.content.decode()
        assert "results" not in response.json()
        assert req.final["to"] not in body
        assert "Your order has shipped" not in body
        assert req.payload_hash not in body
    assert not Decision.objects.filter(request=req).exists()
    assert ApprovalRequest.objects.get(pk=req.pk).status == "pending"
    assert list(req.audit_events.values_list("verb", flat=True)) == ["created"]


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
            {
                "verdict": "approve_with_edits",
                "edits": {"subject": "Shipped today"},
                "comment": "shorter",
                "payload_hash": req.payload_hash,
            },
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
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "reject", "payload_hash": req.payload_hash}, format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "reason"
    r = client.post(
        f"{BASE}{req.pk}/decide/",
        {"verdict": "approve_with_edits", "edits": {"to": "x@evil.example"}, "payload_hash": req.payload_hash},
        format="json",
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "to", "message": "This field cannot be edited.", "code": "invalid"}]
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "maybe", "payload_hash": req.payload_hash}, format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "verdict"
    # 403: above the caller's authority
    refund = make_refund("900.00")
    r = client.post(
        f"{BASE}{refund.pk}/decide/", {"verdict": "approve", "payload_hash": refund.payload_hash}, format="json"
    )
    assert r.status_code == 403
    assert "approval limit" in r.json()["detail"]
    # 409: decided already
    client.post(
        f"{BASE}{req.pk}/decide/",
        {"verdict": "reject", "reason": "tone", "payload_hash": req.payload_hash},
        format="json",
    )
    r = client.post(f"{BASE}{req.pk}/decide/", {"verdict": "approve", "payload_hash": req.payload_hash}, format="json")
    assert r.status_code == 409
    assert "can no longer be decided" in r.json()["detail"]
    # 403: segregation of duties
    own = make_email_request(requested_by=agent)
    r = client.post(f"{BASE}{own.pk}/decide/", {"verdict": "approve", "payload_hash": own.payload_hash}, format="json")
    assert r.status_code == 403
    assert ApprovalRequest.objects.get(pk=own.pk).status == "pending"


def test_history_returns_decisions_and_audit(make_email_request, agent):
    req = make_email_request()
    client = client_for(agent)
    client.post(
        f"{BASE}{req.pk}/decide/",
        {"verdict": "reject", "reason": "policy", "comment": "no", "payload_hash": req.payload_hash},
        format="json",
    )
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


# --- a decision names the payload version it is for ---------------------------------------------


def test_decide_with_a_stale_payload_hash_is_409_with_the_current_payload(make_refund, manager, make_user):
    # given: two managers open a 30,000 refund; the first lowers it to 20,500 and approves
    second = make_user("Manager", username="manager2")
    req = make_refund("30000.00")
    seen = client_for(second).get(f"{BASE}{req.pk}/").json()
    assert seen["version"] == 1
    first = client_for(manager).post(
        f"{BASE}{req.pk}/decide/",
        {"verdict": "approve", "edits": {"amount": "20500.00"}, "payload_hash": req.payload_hash},
        format="json",
    )
    assert first.status_code == 200, first.content
    # when: the second approves the version they saw
    r = client_for(second).post(
        f"{BASE}{req.pk}/decide/", {"verdict": "approve", "payload_hash": seen["payload_hash"]}, format="json"
    )
    # then: 409, nothing decided, and the body carries what is there now
    assert r.status_code == 409
    body = r.json()
    current = ApprovalRequest.objects.get(pk=req.pk)
    assert body["code"] == "payload_conflict"
    assert body["detail"].startswith("This request changed since you opened it")
    assert body["payload"]["amount"] == "20500.00"
    assert body["payload_hash"] == current.payload_hash
    assert body["version"] == 2
    assert body["sent_payload_hash"] == seen["payload_hash"]
    assert not Decision.objects.filter(request=req, reviewer=second).exists()


def test_decide_without_a_payload_hash_is_400_naming_the_field(make_email_request, agent):
    req = make_email_request()
    r = client_for(agent).post(f"{BASE}{req.pk}/decide/", {"verdict": "approve"}, format="json")
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["payload_hash"]
    assert not Decision.objects.exists()


def test_decide_in_a_currency_without_a_rate_is_400_naming_the_currency(refund_action, managers, manager):
    from decimal import Decimal

    from approvals.models import ApprovalPolicy, AuthorityLimit, ExchangeRate
    from approvals.services import approval_request_create

    policy = ApprovalPolicy.objects.create(name="All refunds", action="tests.refund")
    policy.reviewer_groups.set([managers])
    AuthorityLimit.objects.create(policy=policy, group=managers, currency="USD", max_amount=Decimal("20000"))
    ExchangeRate.objects.create(currency="KWD", base_currency="USD", rate=Decimal("3.25"))
    req = approval_request_create(
        action="tests.refund", subject=ContactFactory(), proposal={"amount": "499.00", "currency": "KWD"}
    )
    ExchangeRate.objects.all().delete()  # the admin withdrew the rate
    r = client_for(manager).post(
        f"{BASE}{req.pk}/decide/", {"verdict": "approve", "payload_hash": req.payload_hash}, format="json"
    )
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["field"] == "currency"
    assert "No exchange rate from KWD to USD" in error["message"]


def test_history_shows_material_edits_and_versions(make_refund, agent):
    req = make_refund("1200.00")
    client_for(agent).post(
        f"{BASE}{req.pk}/decide/",
        {"verdict": "approve", "edits": {"amount": "400.00"}, "payload_hash": req.payload_hash},
        format="json",
    )
    body = client_for(agent).get(f"{BASE}{req.pk}/history/").json()
    [decision] = body["decisions"]
    assert [m["display"] for m in decision["material"]] == ["Amount changed from 1,200.00 USD to 400.00 USD"]
    assert decision["second_review"] == "material"
    assert decision["version"] == 2
    assert [(v["number"], v["source"]) for v in body["versions"]] == [(1, "proposal"), (2, "edit")]


def test_the_openapi_schema_documents_the_payload_hash_and_the_409():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    decide = schema["paths"]["/api/v1/approvals/{id}/decide/"]["post"]
    ref = decide["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "payload_hash" in schema["components"]["schemas"][ref]["required"]
    assert "409" in decide["responses"]
    conflict = decide["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"detail", "code", "payload", "payload_hash", "version"} <= set(
        schema["components"]["schemas"][conflict]["properties"]
    )

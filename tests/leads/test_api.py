"""The partner API: leads with scores and factors, events, overrides, imports, models."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import Lead, LeadEvent, LeadImport
from leads.scoring import leads_rescore
from leads.services import scoring_model_train
from tests.leads.conftest import make_history
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def rules():
    ScoringRuleFactory(name="Referral", points=10)
    ScoringRuleFactory(
        name="Visited pricing in 14 days",
        target="engagement",
        path="site_visit",
        operator="gte",
        value=1,
        within_days=14,
        event_match={"page": "pricing"},
        points=30,
    )


def test_leads_come_hottest_first_with_their_factors(api, sales_rep, rules):
    LeadFactory(email="cold@x.example", source="Web form")
    LeadFactory(email="hot@x.example", source="Referral")
    leads_rescore()
    api.force_authenticate(sales_rep)
    body = api.get(reverse("api:lead-list")).json()
    assert [r["email"] for r in body["results"]] == ["hot@x.example", "cold@x.example"]
    hot = body["results"][0]
    assert (hot["score"], hot["tier"]) == (25, "C")
    assert hot["factors"] == [{"label": "Referral", "value": 10, "kind": "rule"}]
    assert hot["override"] is None


def test_the_lead_list_costs_the_same_queries_for_n_and_n_plus_one(api, sales_rep, rules, django_assert_num_queries):
    for _ in range(4):
        LeadFactory(owner=sales_rep)
    api.force_authenticate(sales_rep)
    api.get(reverse("api:lead-list"))
    with django_assert_num_queries(2):  # count, the page with owner and overrider joined
        api.get(reverse("api:lead-list"))
    LeadFactory(owner=sales_rep)
    with django_assert_num_queries(2):
        api.get(reverse("api:lead-list"))


def test_partners_push_events_once_and_the_lead_is_rescored(api, sales_rep, rules, django_capture_on_commit_callbacks):
    lead = LeadFactory(email="dana@x.example", external_id="CRM-9")
    leads_rescore()
    api.force_authenticate(sales_rep)
    events = [
        {"lead_email": "DANA@x.example", "kind": "site_visit", "data": {"page": "/pricing"}, "external_id": "ev-1"},
        {"lead_external_id": "CRM-9", "kind": "email_opened", "external_id": "ev-2"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(reverse("api:lead-event-list"), events, format="json")
    assert first.status_code == 201
    assert [e["created"] for e in first.json()] == [True, True]
    lead.refresh_from_db()
    assert lead.score == 75  # 30 of 40 points
    # a retry of the same push records nothing new
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(reverse("api:lead-event-list"), events, format="json")
    assert again.status_code == 200
    assert [e["created"] for e in again.json()] == [False, False]
    assert LeadEvent.objects.filter(lead=lead).count() == 2


def test_events_name_their_lead_and_kind(api, sales_rep):
    api.force_authenticate(sales_rep)
    response = api.post(
        reverse("api:lead-event-list"), {"lead_email": "nobody@x.example", "kind": "site_visit"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "lead",
        "message": "No such lead (or you may not see it).",
        "code": "invalid",
    }
    lead = LeadFactory()
    response = api.post(reverse("api:lead-event-list"), {"lead": lead.pk, "kind": "email_sent"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"  # outbound mail is not engagement a partner reports


def test_override_through_the_api_needs_a_reason(api, sales_rep, marketer, rules):
    lead = LeadFactory(source="Referral")
    leads_rescore()
    api.force_authenticate(marketer)
    assert api.post(reverse("api:lead-override", args=[lead.pk]), {"score": 90, "reason": "x"}).status_code == 403
    api.force_authenticate(sales_rep)
    assert api.post(reverse("api:lead-override", args=[lead.pk]), {"score": 90}).status_code == 400
    body = api.post(reverse("api:lead-override", args=[lead.pk]), {"score": 90, "reason": "Signed LOI"}).json()
    assert (body["score"], body["tier"], body["computed_score"]) == (90, "A", 25)
    assert body["override"]["reason"] == "Signed LOI"
    history = api.get(reverse("api:lead-scores", args=[lead.pk])).json()["results"]
    assert [(h["source"], h["score"], h["reason"]) for h in history] == [
        ("override", 90, "Signed LOI"),
        ("computed", 25, ""),
    ]
    cleared = api.delete(reverse("api:lead-override", args=[lead.pk])).json()
    assert (cleared["score"], cleared["override"]) == (25, None)


def test_explain_lists_every_factor(api, sales_rep, rules):
    make_history()
    scoring_model_train()
    lead = LeadFactory(source="Referral")
    leads_rescore()
    api.force_authenticate(sales_rep)
    body = api.get(reverse("api:lead-explain", args=[lead.pk])).json()
    model = body["model"]
    assert model["intercept"] + sum(f["value"] for f in model["factors"]) == pytest.approx(model["logit"])
    assert body["rules"] == [{"rule": body["rules"][0]["rule"], "label": "Referral", "points": 10}]


def test_create_and_update_leads(api, sales_rep):
    api.force_authenticate(sales_rep)
    created = api.post(
        reverse("api:lead-list"), {"email": "New@X.example", "company": "X", "owner": "rep"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["email"] == "new@x.example"
    assert created.json()["owner"] == "rep"
    duplicate = api.post(reverse("api:lead-list"), {"email": "new@x.example"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"][0]["field"] == "email"
    lead_id = created.json()["id"]
    updated = api.patch(reverse("api:lead-detail", args=[lead_id]), {"status": "won"}, format="json")
    assert updated.json()["closed_at"] is not None


def test_import_through_the_api_and_poll_its_status(api, manager, support_agent, django_capture_on_commit_callbacks):
    api.force_authenticate(manager)
    upload = SimpleUploadedFile("x.csv", b"Email,Source\na@x.example,Referral\nbroken,Referral\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:lead-import-list"), {"file": upload}, format="multipart")
    assert response.status_code == 201
    imp = LeadImport.objects.get()
    status = api.get(reverse("api:lead-import-detail", args=[imp.pk])).json()
    assert (status["status"], status["percent"], status["created_rows"], status["failed_rows"]) == ("done", 100, 1, 1)
    errors = api.get(reverse("api:lead-import-errors", args=[imp.pk])).json()["results"]
    assert errors == [
        {
            "line": 3,
            "column": "Email",
            "value": "broken",
            "message": "'broken' is not an email address.",
            "duplicate": False,
            "row": ["broken", "Referral"],
        }
    ]
    api.force_authenticate(support_agent)
    assert api.get(reverse("api:lead-import-list")).status_code == 403


def test_models_and_training_on_demand(api, manager, sales_rep):
    api.force_authenticate(manager)
    refused = api.post(reverse("api:lead-scoring-model-train"))
    assert refused.status_code == 400
    assert "at least" in refused.json()["detail"]
    make_history()
    trained = api.post(reverse("api:lead-scoring-model-train"))
    assert trained.status_code == 201
    assert (trained.json()["version"], trained.json()["active"]) == (1, True)
    assert trained.json()["metrics"]["n_train"] + trained.json()["metrics"]["n_test"] == 240
    api.force_authenticate(sales_rep)
    assert api.post(reverse("api:lead-scoring-model-train")).status_code == 403
    assert api.get(reverse("api:lead-scoring-model-list")).json()["results"][0]["version"] == 1


def test_anonymous_calls_are_refused(api):
    assert api.get(reverse("api:lead-list")).status_code == 401
    assert Lead.objects.count() == 0

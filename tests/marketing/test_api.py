"""The partner API: campaigns, segments with counts, variants, results, conversions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from approvals.services import approval_decide
from hitl_crm.accounts.services import api_token_create
from hitl_crm.contacts.models import Activity
from marketing import tokens
from marketing.models import Campaign, Conversion, Segment, Send
from marketing.services import campaign_submit
from tests.marketing.conftest import split_evenly

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(marketer) -> APIClient:
    client = APIClient()
    client.force_authenticate(marketer)
    return client


@pytest.fixture
def sent_campaign(make_campaign, marketer, colleague, campaign_policy, on_commit):
    campaign = make_campaign(arms=2)
    with on_commit():
        req = campaign_submit(campaign=campaign, actor=marketer)
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    return campaign


def test_a_campaign_goes_from_brief_to_approval_request_over_the_api(api, everyone, audience, campaign_policy):
    created = api.post(
        "/api/v1/campaigns/",
        {
            "name": "API launch",
            "brief": "Our new stove boils water in 90 seconds.",
            "product": "stove",
            "segment": everyone.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    generated = api.post(f"/api/v1/campaigns/{pk}/generate/", {"n": 3}, format="json")
    assert generated.status_code == 201
    assert len(generated.json()) >= 2
    first = generated.json()[0]["id"]
    shortlisted_ = api.patch(
        f"/api/v1/variants/{first}/", {"status": "approved", "subject": "Boil in 90 seconds"}, format="json"
    )
    assert shortlisted_.json()["status"] == "approved"
    assert shortlisted_.json()["subject"] == "Boil in 90 seconds"
    assert api.post(f"/api/v1/campaigns/{pk}/lock/").json()["status"] == "variants_approved"
    submitted = api.post(f"/api/v1/campaigns/{pk}/submit/")
    assert submitted.status_code == 202
    assert submitted.json()["status"] == "in_review"
    assert submitted.json()["approval_request"]
    assert mail.outbox == []


def test_service_rules_answer_in_the_api_error_format(api, make_campaign, marketer):
    campaign = make_campaign(arms=1)  # already locked: the brief cannot change
    response = api.patch(f"/api/v1/campaigns/{campaign.pk}/", {"brief": "changed"}, format="json")
    # a state conflict, not bad input: 409 with the service's message
    assert response.status_code == 409
    assert "cannot change the brief" in response.json()["detail"]


def test_segments_list_counts_without_a_query_per_segment(api, audience):
    Segment.objects.create(name="All", rules=[])
    Segment.objects.create(name="Premium", rules=[{"field": "account.tier", "op": "eq", "value": "premium"}])
    api.get("/api/v1/segments/")  # warm caches
    with CaptureQueriesContext(connection) as two:
        body = api.get("/api/v1/segments/").json()
    Segment.objects.create(name="Nobody", rules=[{"field": "account.tier", "op": "eq", "value": "vip"}])
    with CaptureQueriesContext(connection) as three:
        api.get("/api/v1/segments/")
    # page count, page rows, one aggregate with every segment's counts (plus auth)
    assert len(three) == len(two)
    counts = {s["name"]: (s["count"], s["reachable"]) for s in body["results"]}
    assert counts == {"All": (12, 10), "Premium": (12, 10)}


def test_creating_a_segment_validates_its_rules(api):
    bad = api.post(
        "/api/v1/segments/", {"name": "x", "rules": [{"field": "score.churn", "op": "gte", "value": 7}]}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "rules[0].value"
    good = api.post(
        "/api/v1/segments/",
        {"name": "At risk", "rules": [{"field": "score.churn", "op": "gte", "value": "0.6"}]},
        format="json",
    )
    assert good.status_code == 201
    assert good.json()["rules"] == [{"field": "score.churn", "op": "gte", "value": 0.6}]
    assert good.json()["count"] == 0


def test_results_report_rates_intervals_and_p_value(api, sent_campaign):
    a, b = split_evenly(sent_campaign)  # 5 and 5
    Send.objects.filter(campaign=sent_campaign, variant=b).update(clicked_at="2026-01-01T10:00:00Z")
    body = api.get(f"/api/v1/campaigns/{sent_campaign.pk}/results/").json()
    assert body["metric"] == "click"
    by_label = {v["label"]: v for v in body["variants"]}
    assert by_label["B"]["rate"] == 1.0
    assert by_label["A"]["rate"] == 0.0
    assert 0 < by_label["B"]["ci_low"] < 1.0 == by_label["B"]["ci_high"]
    assert 0 <= body["p_value"] < 0.05
    assert body["significant"] is True
    assert body["sentence"].startswith("B is the winner")
    assert body["suggested_variant"] == b.pk


def test_a_partner_posts_conversions_by_token_or_by_email(sent_campaign, make_user, audience):
    # given: a partner system with a token allowed to add conversions (and nothing else)
    partner = make_user(username="webshop")
    partner.user_permissions.add(Permission.objects.get(codename="add_conversion"))
    _, key = api_token_create(user=partner, name="Webshop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    send = Send.objects.get(campaign=sent_campaign, contact=audience[0])
    # when: it reports an order carrying the click-through token
    ref = tokens.make_token(tokens.CONVERSION, send.pk)
    first = client.post(
        "/api/v1/conversions/",
        {"token": ref, "occurred_at": "2026-03-01T12:00:00Z", "value": "129.00", "external_id": "order-1"},
        format="json",
    )
    again = client.post(
        "/api/v1/conversions/",
        {"token": ref, "occurred_at": "2026-03-01T12:00:00Z", "value": "129.00", "external_id": "order-1"},
        format="json",
    )
    by_email = client.post(
        "/api/v1/conversions/",
        {"campaign": sent_campaign.pk, "email": audience[1].email.upper(), "occurred_at": "2026-03-02T09:00:00Z"},
        format="json",
    )
    # then: credited once per order, the send is marked, the timeline notes the purchase
    assert (first.status_code, again.status_code, by_email.status_code) == (201, 200, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Conversion.objects.count() == 2
    send.refresh_from_db()
    assert send.converted_at.isoformat().startswith("2026-03-01")
    assert Activity.objects.filter(contact=audience[0], kind="purchase", data__external_id="order-1").count() == 1
    # forged tokens and unknown customers are refused; reading is not allowed to this partner
    forged = client.post(
        "/api/v1/conversions/", {"token": ref[:-3] + "xyz", "occurred_at": "2026-03-01T12:00:00Z"}, format="json"
    )
    assert forged.status_code == 404
    assert client.get("/api/v1/conversions/").status_code == 403
    assert client.get("/api/v1/campaigns/").status_code == 403


def test_without_credentials_the_api_answers_401(make_campaign, everyone):
    # given: a campaign and a segment exist
    campaign = make_campaign(name="Spring tents")
    anonymous = APIClient()

    # when: someone without credentials reads them and tries to create a campaign
    listing = anonymous.get("/api/v1/campaigns/")
    detail = anonymous.get(f"/api/v1/campaigns/{campaign.pk}/")
    segments = anonymous.get("/api/v1/segments/")
    created = anonymous.post("/api/v1/campaigns/", {"name": "Sneaky", "brief": "Free tents"}, format="json")

    # then: 401 with a challenge, nothing of the data in the answers, and nothing stored
    for response in (listing, detail, segments, created):
        assert response.status_code == 401
        assert response.has_header("WWW-Authenticate")
        body = response.content.decode()
        assert "results" not in response.json()
        assert "Spring tents" not in body
        assert "Our new tent" not in body
        assert everyone.name not in body
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Spring tents"]


def test_sales_reps_read_but_cannot_create_campaigns(sales_rep):
    client = APIClient()
    client.force_authenticate(sales_rep)
    assert client.get("/api/v1/segments/").status_code == 200
    assert client.get("/api/v1/campaigns/").status_code == 200
    assert client.post("/api/v1/campaigns/", {"name": "x", "brief": "y"}, format="json").status_code == 403
    assert Campaign.objects.count() == 0

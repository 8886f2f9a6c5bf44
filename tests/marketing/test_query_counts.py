"""Segment and campaign lists (page and API) cost the same queries for N and N+1 rows."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from marketing.models import Segment, Send
from marketing.services import conversion_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(marketer) -> APIClient:
    client = APIClient()
    client.force_authenticate(marketer)
    return client


def _segment(n: int, owner) -> Segment:
    """A saved segment by a named owner (the list shows the owner and describes the rules)."""
    rules = [{"field": "account.tier", "op": "eq", "value": "premium"}]
    return Segment.objects.create(name=f"Premium buyers {n}", rules=rules, owner=owner, description="Tier premium")


@pytest.fixture
def converted(make_campaign, audience, manager):
    """A campaign whose email reached one contact, who bought (a conversion row names campaign and contact)."""

    def make(n: int):
        campaign = make_campaign(arms=1, name=f"Campaign {n}", lock=False)
        send = Send.objects.create(
            campaign=campaign, contact=audience[n], bucket=0.5, status=Send.Status.SENT, sent_at=timezone.now()
        )
        conversion, _ = conversion_record(
            send=send, actor=manager, occurred_at=timezone.now(), external_id=f"order-{n}"
        )
        return conversion

    return make


def test_the_segment_page_costs_the_same_queries_for_n_and_n_plus_one(client, marketer, django_assert_num_queries):
    # given: three segments by the marketer
    for n in range(3):
        _segment(n, marketer)
    client.force_login(marketer)
    client.get("/marketing/segments/")  # warm the content-type and permission caches

    # when / then (7): session, user, user permissions, group permissions, the count, the user's groups
    # for the top bar, the page of segments with the owner joined (each row loads its live size later)
    with django_assert_num_queries(7):
        client.get("/marketing/segments/")
    _segment(3, marketer)
    with django_assert_num_queries(7):
        html = client.get("/marketing/segments/").content.decode()
    assert "Premium buyers 3" in html
    assert "Premium buyers 0" in html


def test_the_segment_list_costs_the_same_queries_for_n_and_n_plus_one(
    api, marketer, audience, django_assert_num_queries
):
    for n in range(3):
        _segment(n, marketer)
    api.get("/api/v1/segments/")

    # (3): the count, the page of segments with the owner joined, the sizes of the whole page in one
    # aggregate over contacts
    with django_assert_num_queries(3):
        api.get("/api/v1/segments/")
    _segment(3, marketer)
    with django_assert_num_queries(3):
        body = api.get("/api/v1/segments/").json()
    row = next(r for r in body["results"] if r["name"] == "Premium buyers 3")
    assert (row["owner"], row["count"], row["reachable"]) == ("marketer", 12, 10)


def test_the_campaign_list_costs_the_same_queries_for_n_and_n_plus_one(api, make_campaign, django_assert_num_queries):
    for n in range(3):
        make_campaign(arms=1, name=f"Campaign {n}", lock=False)
    api.get("/api/v1/campaigns/")

    # (2): the count, the page of campaigns with the owner joined
    with django_assert_num_queries(2):
        api.get("/api/v1/campaigns/")
    make_campaign(arms=1, name="Campaign 3", lock=False)
    with django_assert_num_queries(2):
        body = api.get("/api/v1/campaigns/").json()
    assert (body["results"][0]["name"], body["results"][0]["owner"]) == ("Campaign 3", "marketer")


def test_the_variant_list_costs_the_same_queries_for_n_and_n_plus_one(api, make_campaign, django_assert_num_queries):
    for n in range(3):
        make_campaign(arms=2, name=f"Campaign {n}", lock=False)
    api.get("/api/v1/variants/")

    # (2): the count, the page of variants of the campaigns the user may see
    with django_assert_num_queries(2):
        api.get("/api/v1/variants/")
    make_campaign(arms=2, name="Campaign 3", lock=False)
    with django_assert_num_queries(2):
        body = api.get("/api/v1/variants/").json()
    assert len(body["results"]) == 8


def test_the_conversion_list_costs_the_same_queries_for_n_and_n_plus_one(
    client, manager, converted, django_assert_num_queries
):
    for n in range(3):
        converted(n)
    api = APIClient()
    api.force_authenticate(manager)
    api.get("/api/v1/conversions/")

    # (2): the count, the page of conversions with the send joined
    with django_assert_num_queries(2):
        api.get("/api/v1/conversions/")
    newest = converted(3)
    with django_assert_num_queries(2):
        body = api.get("/api/v1/conversions/").json()
    assert (body["results"][0]["id"], body["results"][0]["campaign"]) == (newest.pk, newest.send.campaign_id)

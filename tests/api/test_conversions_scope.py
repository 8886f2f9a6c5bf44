"""The conversions list shows only conversions of campaigns the caller may see."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from marketing.models import Campaign, Conversion, Send
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversion():
    campaign = Campaign.objects.create(name="Spring sale", brief="Boots for spring")
    send = Send.objects.create(campaign=campaign, contact=ContactFactory(), bucket=0.5, status=Send.Status.SENT)
    return Conversion.objects.create(send=send, occurred_at=timezone.now(), external_id="order-7")


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_partner_allowed_to_read_conversions_but_not_campaigns_sees_none(make_user, conversion):
    # given: a partner account that was granted conversions, but no campaign access
    partner = make_user(username="webshop")
    partner.user_permissions.add(*Permission.objects.filter(codename__in=["view_conversion", "add_conversion"]))
    # when
    response = _client(partner).get("/api/v1/conversions/")
    # then: nothing of the campaigns it may not see
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_marketer_sees_the_conversions_of_campaigns(marketer, conversion):
    response = _client(marketer).get("/api/v1/conversions/")
    assert response.status_code == 200
    assert [c["external_id"] for c in response.json()["results"]] == ["order-7"]


def test_a_sales_rep_who_sees_campaigns_but_not_conversions_is_refused(sales_rep, conversion):
    # the rep reads the campaign itself ...
    campaigns = _client(sales_rep).get("/api/v1/campaigns/").json()["results"]
    assert [c["name"] for c in campaigns] == ["Spring sale"]
    # ... but not what its customers bought
    response = _client(sales_rep).get("/api/v1/conversions/")
    assert response.status_code == 403
    assert b"order-7" not in response.content

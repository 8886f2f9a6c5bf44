"""The dashboard shows each panel only to users who may view what it shows."""

import pytest
from django.contrib.auth.models import Permission

from hitl_crm.contacts.services import activity_record
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def business():
    contact = ContactFactory(first_name="Zelda", last_name="Quartermaine", account=AccountFactory(tier="vip"))
    activity_record(contact=contact, kind="call", summary="Discussed the confidential renewal")
    return contact


def test_a_user_without_a_role_sees_no_customer_names_counts_or_activity(client, nobody, business):
    # given
    client.force_login(nobody)
    # when
    response = client.get("/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Quartermaine" not in html
    assert "confidential renewal" not in html
    assert "Customer activity, last 30 days" not in html
    assert "VIP accounts" not in html
    assert "Reachable by email" not in html
    assert "no role that includes customers" in html


def test_a_sales_rep_sees_the_latest_activity_and_counts(client, sales_rep, business):
    client.force_login(sales_rep)
    response = client.get("/")
    html = response.content.decode()
    assert "Quartermaine" in html
    assert "confidential renewal" in html
    assert response.context["stats"]["contacts"] == 1
    assert response.context["stats"]["vip_accounts"] == 1


def test_account_figures_without_contact_access_show_no_people(client, nobody, business):
    # given: someone allowed to see accounts only
    nobody.user_permissions.add(Permission.objects.get(codename="view_account"))
    client.force_login(nobody)
    # when
    response = client.get("/")
    # then: account counts, but no contact counts, names or activity
    html = response.content.decode()
    assert response.context["stats"]["accounts"] == 1
    assert response.context["stats"]["contacts"] is None
    assert response.context["recent"] is None
    assert "Quartermaine" not in html

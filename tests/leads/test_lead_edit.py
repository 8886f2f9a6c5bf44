"""Editing a lead inline on its page: status, owner, value with currency, tags; validated and audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from leads import services
from leads.followups import SEND_FOLLOWUP
from tests.leads.factories import LeadFactory
from tests.leads.test_permissions_and_audit import events_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.leads.urls")]
HX = {"HTTP_HX_REQUEST": "true"}


def _form(**overrides) -> dict[str, str]:
    return {"status": "working", "owner": "", "value": "", "value_currency": "USD", "tags": "", **overrides}


@pytest.fixture
def lead(sales_rep):
    return LeadFactory(first_name="Dana", last_name="Doe", owner=sales_rep)


def test_the_panel_saves_status_owner_value_and_tags_with_htmx(client, sales_rep, manager, lead):
    # given
    client.force_login(sales_rep)
    form_html = client.get(reverse("leads:edit", args=[lead.pk]), **HX).content.decode()
    assert f'hx-post="/leads/{lead.pk}/edit/"' in form_html
    assert 'name="value_currency"' in form_html

    # when: a German-style amount with the euro sign, and messy tags
    response = client.post(
        reverse("leads:edit", args=[lead.pk]),
        _form(status="qualified", owner=str(manager.pk), value="€12.500,00", tags=" VIP, school ,vip"),
        **HX,
    )

    # then: the panel comes back showing the new values, the page's status pill follows
    html = response.content.decode()
    assert response.status_code == 200
    assert "Saved." in html
    assert "12,500.00 EUR" in html
    assert 'id="lead-status" hx-swap-oob="true">Qualified<' in html
    lead.refresh_from_db()
    assert (lead.status, lead.owner, lead.estimated_value, lead.value_currency, lead.tags) == (
        "qualified",
        manager,
        Decimal("12500.00"),
        "EUR",
        ["vip", "school"],
    )


def test_without_javascript_the_form_posts_and_redirects_to_the_lead(client, sales_rep, lead):
    client.force_login(sales_rep)
    page = client.get(reverse("leads:detail", args=[lead.pk]) + "?edit=1").content.decode()
    assert f'action="/leads/{lead.pk}/edit/"' in page

    response = client.post(reverse("leads:edit", args=[lead.pk]), _form(value="1,234.50", value_currency="GBP"))

    assert response.status_code == 302
    assert response.url == lead.get_absolute_url()
    lead.refresh_from_db()
    assert (lead.estimated_value, lead.value_currency) == (Decimal("1234.50"), "GBP")
    assert "1,234.50 GBP" in client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"value": "twelve"}, "&#x27;twelve&#x27; is not an amount."),
        ({"value": "1.2345 USD"}, "more decimals than USD has (2)"),
        ({"value": "-5"}, "Give an amount of 0 or more"),
        ({"tags": "ok, <b>bad</b>"}, "may hold only letters, digits, spaces, - and _."),
        ({"status": "asleep"}, "Select a valid choice."),
        ({"value_currency": "XXX"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_changes_nothing(client, sales_rep, lead, data, field_error):
    # given
    client.force_login(sales_rep)

    # when: with htmx, and as a plain form post
    panel = client.post(reverse("leads:edit", args=[lead.pk]), _form(**data), **HX)
    page = client.post(reverse("leads:edit", args=[lead.pk]), _form(**data))

    # then: never a 500; the form comes back with the message beside the field
    assert panel.status_code == 200
    assert page.status_code == 422
    for html in (panel.content.decode(), page.content.decode()):
        assert field_error in html
        assert 'class="field-error" role="alert"' in html
        assert "Saved." not in html
    lead.refresh_from_db()
    assert (lead.status, lead.estimated_value, lead.tags) == ("new", None, [])


def test_only_people_who_may_change_leads_get_the_form(client, marketer, lead):
    client.force_login(marketer)
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Edit status, owner, value, tags" not in page
    assert client.get(reverse("leads:edit", args=[lead.pk])).status_code == 403
    assert client.post(reverse("leads:edit", args=[lead.pk]), _form(status="won")).status_code == 403
    lead.refresh_from_db()
    assert lead.status == "new"


def test_value_and_tag_changes_are_audited_with_before_and_after(sales_rep, lead):
    # when
    services.lead_update(
        lead=lead, data={"estimated_value": Decimal("900"), "value_currency": "eur", "tags": "Expo"}, actor=sales_rep
    )
    services.lead_update(lead=lead, data={"estimated_value": Decimal("950")}, actor=sales_rep)  # keeps EUR
    services.lead_update(lead=lead, data={"tags": ["expo"]}, actor=sales_rep)  # no change: no event

    # then
    first, second = events_for(lead, "lead.value_changed")
    assert first.data == {"before": {"value": None}, "after": {"value": {"amount": "900.00", "currency": "EUR"}}}
    assert second.data["after"] == {"value": {"amount": "950.00", "currency": "EUR"}}
    [tags] = events_for(lead, "lead.tags_changed")
    assert (tags.actor, tags.data) == (sales_rep, {"before": {"tags": []}, "after": {"tags": ["expo"]}})
    assert events_for(lead, "lead.status_changed") == []


def test_a_value_without_a_currency_takes_the_default(sales_rep, lead, settings):
    settings.HITL_CRM_LEADS_DEFAULT_CURRENCY = "CHF"
    lead = services.lead_update(lead=lead, data={"estimated_value": "10"}, actor=sales_rep)
    assert (lead.estimated_value, lead.value_currency) == (Decimal("10"), "CHF")
    lead = services.lead_update(lead=lead, data={"estimated_value": None}, actor=sales_rep)
    assert lead.value_currency == ""


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value_currency": "ZZZ", "estimated_value": "1"}, "value_currency"),
        ({"estimated_value": "1e20"}, "estimated_value"),
        ({"tags": ["x" * 40]}, "tags"),
    ],
)
def test_the_service_names_the_field_it_refuses(sales_rep, lead, data, field):
    with pytest.raises(ValidationError) as error:
        services.lead_update(lead=lead, data=data, actor=sales_rep)
    assert field in error.value.message_dict


def test_follow_up_statuses_on_the_lead_page_use_the_shared_words(client, sales_rep, lead):
    ApprovalRequest.objects.create(
        action=SEND_FOLLOWUP,
        subject=lead,
        proposal={"subject": "Checking in", "body": "Hi"},
        final={"subject": "Checking in", "body": "Hi"},
        status="executed",
        due_at=timezone.now(),
        sla_due_at=timezone.now(),
    )
    client.force_login(sales_rep)
    html = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert '<span class="pill pill-executed">Sent</span> Checking in' in html


def test_the_api_sets_value_currency_and_tags_and_names_a_bad_field(sales_rep, lead):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(sales_rep)
    url = reverse("api:lead-detail", args=[lead.pk])

    ok = api.patch(url, {"estimated_value": "250.00", "value_currency": "eur", "tags": ["Expo"]}, format="json")
    bad = api.patch(url, {"value_currency": "ZZZ", "estimated_value": "1"}, format="json")

    assert ok.status_code == 200
    assert (ok.json()["value_currency"], ok.json()["tags"]) == ("EUR", ["expo"])
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "value_currency"


def test_the_prospects_list_changes_a_status_in_place(client, sales_rep, marketer, lead):
    # given
    client.force_login(sales_rep)
    listing = client.get(reverse("leads:prospects")).content.decode()
    assert f'<select name="status" id="status-{lead.pk}"' in listing
    url = reverse("leads:status", args=[lead.pk])

    # when / then: htmx swaps the cell
    cell = client.post(url, {"status": "working"}, **HX).content.decode()
    assert '<option value="working" selected>Working</option>' in cell
    assert "Saved" in cell
    # a bad value is named, never a 500
    bad = client.post(url, {"status": "asleep"}, **HX)
    assert bad.status_code == 200
    assert "Use one of: new, working, qualified, won, lost." in bad.content.decode()
    # without JavaScript: back to the list
    assert client.post(url, {"status": "won"}).url == reverse("leads:prospects")
    lead.refresh_from_db()
    assert lead.status == "won"
    assert [e.data["after"] for e in events_for(lead, "lead.status_changed")] == [
        {"status": "working"},
        {"status": "won"},
    ]

    # a marketer sees the status but cannot change it
    client.force_login(marketer)
    assert '<select name="status" id="status-' not in client.get(reverse("leads:prospects")).content.decode()
    assert client.post(url, {"status": "lost"}, **HX).status_code == 403

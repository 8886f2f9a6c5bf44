"""A form sent over HTMX that the server refuses (422) shows its errors in place and keeps what
the person typed, instead of silently doing nothing."""

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_score_override_without_a_reason_shows_why_and_keeps_the_score_typed(page, live_server, sales_rep, login):
    lead = LeadFactory(first_name="Hana", last_name="Hot", owner=sales_rep, score=80)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "422" not in msg.text else None)
    login("rep")
    page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    page.click("text=Correct this score")
    page.fill("#id_score", "135")
    page.fill("#id_reason", "Budget moved")
    # past the browser's own checks (min/max), as an old browser or a tampered page would send it
    page.eval_on_selector("#score form", "form => { form.noValidate = true; }")
    page.click("button[value=set]")
    expect(page.locator("#score .field-error").first).to_contain_text("less than or equal to 100")
    expect(page.locator("#id_score")).to_have_value("135")
    expect(page.locator("#id_reason")).to_have_value("Budget moved")
    assert Lead.objects.get(pk=lead.pk).override_score is None
    assert errors == []

import pytest
from playwright.sync_api import expect

from marketing.models import Campaign
from tests.factories import AccountFactory, ContactFactory
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_typing_in_the_top_bar_shows_matches_grouped_by_kind(page, live_server, manager, login, screenshot):
    ContactFactory(first_name="Ingrid", last_name="Larsen", account=AccountFactory(name="Fjord Adventure"))
    LeadFactory(first_name="Ola", last_name="Nordmann", company="Fjord Logistics")
    Campaign.objects.create(name="Fjord summer launch", brief="Kayaks for summer")
    ContactFactory(first_name="Zed", last_name="Unrelated")
    login("manager")

    page.fill(".topbar input[name=q]", "fjord")
    page.press(".topbar input[name=q]", "Enter")

    expect(page).to_have_url(f"{live_server.url}/search/?q=fjord")
    results = page.locator("#search-results")
    expect(results.locator("section.search-group h2")).to_have_text(["Contacts 1", "Leads 1", "Campaigns 1"])
    expect(results.locator("section.search-group", has_text="Contacts")).to_contain_text("Ingrid Larsen")
    expect(results.locator("section.search-group", has_text="Leads")).to_contain_text("Fjord Logistics")
    expect(results.locator("section.search-group", has_text="Campaigns")).to_contain_text("Fjord summer launch")
    expect(results).not_to_contain_text("Unrelated")

    # Refining on the page updates the results in place (search-as-you-type).
    page.evaluate("window.__stayed = true")
    page.fill("#content input[name=q]", "fjord summer")
    expect(results.locator("section.search-group h2")).to_have_text(["Campaigns 1"])
    assert page.evaluate("window.__stayed") is True
    screenshot("global-search")

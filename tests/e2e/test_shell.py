import pytest
from playwright.sync_api import expect

from hitl_crm.contacts.services import activity_record
from tests.factories import AccountFactory, ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_see_the_dashboard(page, live_server, sales_rep, login, screenshot):
    contact = ContactFactory(first_name="Ingrid", last_name="Larsen")
    activity_record(contact=contact, kind="call", summary="Talked about the spring order")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    screenshot("login")
    login("rep")
    expect(page.locator("h1")).to_contain_text("Good to see you")
    expect(page.locator(".stat", has_text="Contacts")).to_contain_text("1")
    expect(page.locator(".stat", has_text="Waiting for your review")).to_contain_text("0")
    expect(page.locator(".feed")).to_contain_text("Talked about the spring order")
    expect(page.locator("svg.chart rect.bar")).to_have_count(30)
    screenshot("dashboard")


def test_contact_search_updates_in_place(page, live_server, sales_rep, login, screenshot):
    fjord = AccountFactory(name="Fjord Adventure", tier="vip")
    ContactFactory(first_name="Ingrid", last_name="Larsen", account=fjord)
    for i in range(30):
        ContactFactory(first_name=f"Person{i:02d}", last_name="Smith")
    login("rep")
    page.click("nav >> text=Contacts")
    expect(page.locator("#contact-results")).to_contain_text("31 contacts")
    # A marker on window survives only if the page is never reloaded.
    page.evaluate("window.__stayed = true")
    page.fill("#content input[name=q]", "fjord")
    expect(page.locator("#contact-results")).to_contain_text("1 contact matching “fjord”")
    expect(page.locator("#contact-results tbody tr")).to_have_count(1)
    expect(page.locator("#contact-results")).to_contain_text("Ingrid Larsen")
    assert page.evaluate("window.__stayed") is True
    assert page.url.endswith("/contacts/?q=fjord")  # the search is in the address bar, shareable
    screenshot("contacts-search")
    # pagination also swaps in place: 25 a page, by name, the search kept
    page.fill("#content input[name=q]", "smith")
    expect(page.locator("#contact-results")).to_contain_text("30 contacts matching “smith”")
    expect(page.locator("#contact-results tbody tr")).to_have_count(25)
    page.click("text=Next →")
    expect(page.locator("#contact-results tbody tr")).to_have_count(5)
    expect(page.locator("#contact-results")).to_contain_text("Person29 Smith")
    expect(page.locator("#contact-results")).to_contain_text("← Previous")
    assert "q=smith" in page.url  # the page is in the address bar too
    assert "after=" in page.url
    assert page.evaluate("window.__stayed") is True


def test_contact_page_shows_the_timeline(page, live_server, sales_rep, login, screenshot):
    contact = ContactFactory(first_name="Omar", last_name="Patel")
    activity_record(contact=contact, kind="meeting", summary="Product demo: headlamps")
    login("rep")
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    expect(page.locator(".timeline")).to_contain_text("Product demo: headlamps")
    screenshot("contact-detail")


def test_no_console_errors_or_csp_violations(page, live_server, sales_rep, login):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login("rep")
    page.goto(f"{live_server.url}/contacts/")
    page.fill("#content input[name=q]", "x")
    page.wait_for_timeout(600)
    assert errors == []

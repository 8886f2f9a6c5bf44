"""An agent takes a case, edits it in place on a phone: assign to me, a new status in people's words,
tags with one refused, no console errors and no sideways scrolling."""

import pytest
from playwright.sync_api import expect

from service.models import Case
from tests.e2e.test_htmx_resilience import console_errors  # noqa: F401  (fixture)
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _no_sideways_scroll(page) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"scrolls sideways: {scroll_width} > {inner_width}"


def test_an_agent_takes_a_case_sets_its_status_and_tags_in_place(
    page,
    live_server,
    login,
    screenshot,
    support_agent,
    console_errors,  # noqa: F811
):
    contact = ContactFactory(first_name="Olivia", last_name="Andersen", email="olivia@trailhead.example")
    case = Case.objects.create(contact=contact, subject="The zip on my rain shell broke after a week")
    page.set_viewport_size(PHONE)
    login("agent")
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    expect(page.locator("#case-owner")).to_have_text("unassigned")

    # Assign to me: the header swaps in place and names the agent
    page.click("button:text('Assign to me')")
    expect(page.locator("#case-head .result-banner")).to_have_text("Assigned to you.")
    expect(page.locator("#case-owner")).to_have_text(support_agent.get_full_name())
    expect(page.locator("#case-head button:text('Assign to me')")).to_have_count(0)

    # the edit panel: a new status and two tags, one of them refused next to the field
    page.click("text=Edit case")
    page.wait_for_url(f"{live_server.url}/service/cases/{case.pk}/edit/")  # the panel has its own URL
    page.select_option("#id_status", "pending_customer")
    page.fill("#id_tags", "warranty, zip!")
    _no_sideways_scroll(page)
    page.click("#case-edit-form button[type=submit]")
    expect(page.locator("#id_tags_error")).to_contain_text("The tag “zip!” may hold only letters, digits")
    expect(page.locator("#id_status")).to_have_value("pending_customer")  # nothing the agent chose is lost
    case.refresh_from_db()
    assert (case.status, case.tags) == ("open", [])

    page.fill("#id_tags", "warranty, zip")
    page.click("#case-edit-form button[type=submit]")
    expect(page.locator("#case-head .result-banner")).to_have_text(
        "Saved. Status: Pending customer · Tags: warranty, zip."
    )
    expect(page.locator("#case-status")).to_have_text("Pending customer")
    expect(page.locator("#case-tags .pill-tag")).to_have_text(["warranty", "zip"])
    expect(page.locator("#case-edit-form")).to_have_count(0)
    page.wait_for_url(f"{live_server.url}{case.get_absolute_url()}")
    _no_sideways_scroll(page)
    screenshot("case-edit-phone")

    case.refresh_from_db()
    assert (case.owner, case.status, case.tags) == (support_agent, "pending_customer", ["warranty", "zip"])
    assert console_errors == []

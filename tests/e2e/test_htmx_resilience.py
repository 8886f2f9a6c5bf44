"""HTMX pages that never lose work: Back restores whole filtered pages, an ended session or a stale
CSRF token keeps the reviewer's edits across signing in, server and network errors say so and keep the
form, and the pages run under the strict CSP without a single console error."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, Decision
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from leads.scoring import leads_rescore
from marketing.services.campaigns import campaign_create
from tests.e2e.test_service import case_with_draft  # noqa: F401  (fixture)
from tests.factories import ContactFactory
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EDIT = "Hi Olivia,\nyour parcel left our warehouse today; tracking follows by mail."


def _email_request(*, confidence: float, name: str = "Olivia"):
    contact = ContactFactory(first_name=name, email=f"{name.lower()}@customer.example")
    return approval_request_create(
        action=NOTIFY_EMAIL,
        subject=contact,
        confidence=confidence,
        risk="medium",
        proposal={"to": contact.email, "subject": "Your order", "body": f"Hi {name},\nit arrives Friday."},
    )


@pytest.fixture
def email_policy(roles):
    policy = ApprovalPolicy.objects.create(
        name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=Group.objects.get(name=MANAGER)
    )
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    return policy


@pytest.fixture
def pending_email(email_policy):
    return _email_request(confidence=0.62)


@pytest.fixture
def console_errors(page):
    """Console errors and CSP violations of every page the test opens."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # An init script runs outside the page's CSP, so it can report the page's violations.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline')); });"
    )
    return errors


def _pick_other_option(page, select) -> tuple[str, str]:
    name = select.get_attribute("name")
    value = select.evaluate("s => Array.from(s.options).map(o => o.value).find(v => v !== s.value && v !== '')")
    select.select_option(value)
    page.wait_for_url(re.compile(rf"[?&]{re.escape(name)}={re.escape(value)}(&|$)"))
    return name, value


def _back_restores_the_filtered_page(page, url: str) -> None:
    page.goto(url)
    selects = page.locator("form.filters select")
    # given two filter changes, each pushed to the history
    first_name, first_value = _pick_other_option(page, selects.nth(0))
    second_name, _ = _pick_other_option(page, selects.nth(1))
    # when the person goes Back one step
    page.go_back()
    page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get(second_name, [""]) == [""])
    # then the whole page is there (layout, navigation, filters) with the first filter applied
    expect(page.locator("nav.nav")).to_be_visible()
    expect(page.locator("form.filters")).to_have_count(1)
    expect(page.locator(f"form.filters select[name={first_name}]")).to_have_value(first_value)
    assert parse_qs(urlsplit(page.url).query)[first_name] == [first_value]


def test_back_after_filter_changes_restores_full_pages(page, live_server, login, admin_user, console_errors):
    login("boss")
    for path in ("/approvals/", "/service/", "/leads/"):
        _back_restores_the_filtered_page(page, live_server.url + path)
    assert console_errors == []


def test_back_after_the_session_ended_asks_to_sign_in(page, live_server, login, admin_user):
    login("boss")
    page.goto(f"{live_server.url}/approvals/")
    selects = page.locator("form.filters select")
    _pick_other_option(page, selects.nth(0))
    _pick_other_option(page, selects.nth(1))
    page.context.clear_cookies(name="sessionid")
    page.go_back()
    # the sign-in page, on its own (not inside the previous page), back to the filtered queue afterwards
    page.wait_for_url(re.compile(r"/login/\?next=/approvals/%3Faction%3D"))
    expect(page.locator("#id_username")).to_be_visible()
    expect(page.locator("nav.nav")).to_have_count(0)


def test_an_ended_session_keeps_the_edit_across_signing_in(
    page, live_server, login, screenshot, support_agent, pending_email
):
    login("agent")
    page.goto(f"{live_server.url}/approvals/{pending_email.pk}/")
    page.fill("textarea[name=edit_body]", EDIT)
    # given the session ends while the reviewer is editing
    page.context.clear_cookies(name="sessionid")
    # when they approve
    page.click("button[value=approve]")
    # then they are asked to sign in, not shown a login form inside the panel
    page.wait_for_url(re.compile(r"/login/\?next="))
    expect(page.locator("#main")).to_have_count(0)
    page.fill("#id_username", "agent")
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    # and are back on the same item with their edit, told so; nothing was decided behind their back
    page.wait_for_url(f"{live_server.url}/approvals/{pending_email.pk}/")
    expect(page.locator("textarea[name=edit_body]")).to_have_value(EDIT)
    expect(page.locator("#page-alert")).to_have_text("Your unsaved edits were restored.")
    screenshot("htmx-session-edit-restored")
    assert not Decision.objects.filter(request=pending_email).exists()
    # and approving now works
    page.click("button[value=approve]")
    expect(page.locator("#main .result-banner")).to_contain_text("Approved")
    assert Decision.objects.get(request=pending_email).payload_after["body"] == EDIT


def test_a_stale_csrf_token_reloads_the_page_and_keeps_the_edit(page, live_server, login, support_agent, pending_email):
    login("agent")
    page.goto(f"{live_server.url}/approvals/{pending_email.pk}/")
    page.fill("textarea[name=edit_body]", EDIT)
    # given the page's token no longer matches (signed out and in again in another tab)
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    page.click("button[value=approve]")
    # then the page is loaded again with a fresh token and the edit is still there
    expect(page.locator("#page-alert")).to_have_text("Your unsaved edits were restored.")
    expect(page.locator("textarea[name=edit_body]")).to_have_value(EDIT)
    assert not Decision.objects.filter(request=pending_email).exists()


def test_a_csrf_failure_page_is_styled(page, live_server, login, screenshot, support_agent):
    login("agent")
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    page.click("text=Log out")
    expect(page.locator("h1")).to_have_text("This page was open too long")
    expect(page.locator(".error-code")).to_have_text("403")
    # our stylesheet applies (the page background is the app's, not the browser's white)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 251)"
    expect(page.locator("nav.nav")).to_be_visible()
    screenshot("csrf-failure-page")


def test_a_server_error_during_an_action_says_so_and_keeps_the_form(
    page, live_server, login, support_agent, pending_email, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("approvals.views.approval_decide", broken)
    login("agent")
    page.goto(f"{live_server.url}/approvals/{pending_email.pk}/")
    page.fill("textarea[name=edit_body]", EDIT)
    page.click("button[value=approve]")
    expect(page.locator("#page-alert")).to_have_text(
        "Something went wrong on our side; your edits are still here. Try again."
    )
    expect(page.locator("textarea[name=edit_body]")).to_have_value(EDIT)
    # offline: the same promise, another reason
    page.context.set_offline(True)
    page.click("button[value=approve]")
    expect(page.locator("#page-alert")).to_contain_text("You seem to be offline")
    expect(page.locator("textarea[name=edit_body]")).to_have_value(EDIT)
    page.context.set_offline(False)


def test_confidence_bars_show_their_confidence(
    page, live_server, login, screenshot, support_agent, email_policy, console_errors
):
    sure = _email_request(confidence=0.92, name="Sure")
    unsure = _email_request(confidence=0.31, name="Unsure")
    login("agent")
    page.goto(f"{live_server.url}/approvals/")

    def bar_width(req) -> float:
        row = page.locator("tr", has=page.locator(f"a[href='/approvals/{req.pk}/']"))
        return row.locator(".confidence-fill").bounding_box()["width"]

    track = page.locator(".confidence-bar").first.bounding_box()["width"]
    assert bar_width(sure) == pytest.approx(track * 0.92, abs=1.5)
    assert bar_width(unsure) == pytest.approx(track * 0.31, abs=1.5)
    screenshot("queue-confidence-bars")
    assert console_errors == []


def test_pages_run_under_the_csp_without_console_errors(
    page,
    live_server,
    login,
    admin_user,
    pending_email,
    case_with_draft,  # noqa: F811
    console_errors,
):
    lead = LeadFactory(first_name="Hana", company="North Peak", owner=admin_user)
    leads_rescore()
    campaign = campaign_create(actor=admin_user, name="Spring", brief="Our spring range is here.")
    login("boss")
    for path in (
        "/approvals/",
        f"/approvals/{pending_email.pk}/",
        "/service/",
        f"/service/cases/{case_with_draft.pk}/",
        "/leads/",
        f"/leads/{lead.pk}/",
        "/marketing/",
        f"/marketing/{campaign.pk}/",
    ):
        page.goto(live_server.url + path)
        expect(page.locator("nav.nav")).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert console_errors == []

"""Every page, every role, desktop and phone: no console errors, no Content-Security-Policy
violations, nothing fetched from another host, and no sideways scrolling on a phone.

The demo business is loaded once for the module; each role signs in and walks the pages in its own
navigation plus the first case, lead, contact, campaign and approval it can open.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import expect

from hitl_crm.accounts.roles import ADMIN
from hitl_crm.web.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# List page (by its path) -> how to find one of its detail pages on it.
DETAIL_LINKS = {
    "/approvals/": ("approval", "table.table tbody a[href^='/approvals/']"),
    "/leads/": ("lead", "table.table tbody a[href^='/leads/']"),
    "/service/": ("case", "table.table tbody a[href^='/service/cases/']"),
    "/marketing/": ("campaign", "table.table tbody a[href^='/marketing/']"),
    "/contacts/": ("contact", "table.table tbody a[href^='/contacts/']"),
}
# A refused style="" attribute is a violation of style-src-attr (stylesheets are style-src-elem).
INLINE_STYLE_DIRECTIVES = {"style-src-attr"}
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


@dataclass
class Visit:
    role: str
    width: int
    path: str
    status: int | None
    console_errors: list[str] = field(default_factory=list)
    csp: list[dict] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    scroll_width: int = 0
    inner_width: int = 0

    def where(self) -> str:
        return f"{self.role} @{self.width}px {self.path}"


# The visit that console messages and requests belong to right now.
current: dict[str, Visit] = {}


def _walk(page, base_url: str, username: str, role: str) -> list[Visit]:
    visits: list[Visit] = []
    current["v"] = Visit(role, DESKTOP["width"], "/login/", None)
    page.context.clear_cookies()
    page.set_viewport_size(DESKTOP)
    response = page.goto(f"{base_url}/login/")
    assert response is not None
    assert response.status == 200, page.content()[:3000]
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    current["v"].status = response.status
    visits.append(current["v"])
    # Every page the sidebar offers this role (the phone menu has the same links).
    hrefs = page.eval_on_selector_all(".sidebar a[href]", "els => els.map(e => e.getAttribute('href'))")
    paths = [h for h in dict.fromkeys(hrefs) if h.startswith("/") and not h.startswith(("/admin/", "/api/"))]
    if role == ADMIN:
        # The API reference is the same page for everybody: one role walks both renderings.
        paths += ["/api/docs/", "/api/redoc/"]
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        todo = list(paths)
        while todo:
            path = todo.pop(0)
            visit = current["v"] = Visit(role, viewport["width"], path, None)
            response = page.goto(f"{base_url}{path}", wait_until="load")
            # Parts that load themselves (badges, counts) have started by now; wait until they are in.
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
            visit.status = response.status if response else None
            visit.csp = page.evaluate("window.__cspViolations")
            visit.scroll_width, visit.inner_width = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            visits.append(visit)
            if viewport is DESKTOP and path in DETAIL_LINKS:
                link = page.locator(DETAIL_LINKS[path][1]).first
                if link.count():
                    detail = link.get_attribute("href")
                    if detail not in paths:
                        paths.append(detail)
                        todo.append(detail)
    return visits


def _foreign(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOCAL_HOSTS


@pytest.fixture(scope="module")
def sweep(browser, live_server, django_db_setup, django_db_blocker) -> list[Visit]:
    """Load the demo business once, then let every demo login walk its pages at both widths."""
    # pytest-django opens ALLOWED_HOSTS to the live server per test only; this runs before any test.
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=["localhost", "127.0.0.1"]):
        call_command("seed_demo", force=True, stdout=io.StringIO())
        # One browser context for everybody, so static files come from its cache after the first page.
        context = browser.new_context(viewport=DESKTOP)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and current["v"].console_errors.append(m.text))
        page.on("request", lambda r: _foreign(r.url) and current["v"].foreign_requests.append(r.url))
        visits = [v for username, _, _, role in DEMO_USERS for v in _walk(page, live_server.url, username, role)]
        context.close()
    return visits


def test_each_role_opens_every_page_of_its_navigation_and_one_of_each_detail_page(sweep):
    # then: every page answered 200 for everybody who has it in the menu
    broken = [(v.where(), v.status) for v in sweep if v.status != 200]
    assert broken == []
    by_role = {role: {v.path for v in sweep if v.role == role} for _, _, _, role in DEMO_USERS}
    # the admin sees every kind of detail page; each role sees at least its own list pages
    admin_pages = by_role["Admin"]
    for prefix in ("/approvals/", "/leads/", "/service/cases/", "/marketing/", "/contacts/"):
        assert any(p.startswith(prefix) and p.rstrip("/").split("/")[-1].isdigit() for p in admin_pages), prefix
    assert {"/approvals/", "/leads/"} <= by_role["Sales rep"]
    assert "/service/" in by_role["Support agent"]
    assert "/marketing/" in by_role["Marketer"]
    assert {"/api/docs/", "/api/redoc/"} <= admin_pages


def test_no_page_logs_a_console_error(sweep):
    errors = [(v.where(), e) for v in sweep for e in v.console_errors]
    assert errors == []


def test_no_page_breaks_the_content_security_policy(sweep):
    violations = [(v.where(), c) for v in sweep for c in v.csp]
    others = [(where, c) for where, c in violations if c["directive"] not in INLINE_STYLE_DIRECTIVES]
    assert others == []
    if violations:
        pytest.xfail(f"inline style attributes are still being replaced: {violations[:3]}")


def test_no_page_fetches_anything_from_another_host(sweep):
    foreign = [(v.where(), url) for v in sweep for url in v.foreign_requests]
    assert foreign == []


def test_no_page_scrolls_sideways_on_a_phone(sweep):
    phone = [v for v in sweep if v.width == PHONE["width"]]
    assert phone
    too_wide = [(v.where(), v.scroll_width) for v in phone if v.scroll_width > v.inner_width]
    assert too_wide == []


# --- the phone menu, the skip link and focus, with a user of their own --------------------------------


def test_on_a_phone_the_menu_opens_and_closes_with_its_button(page, live_server, sales_rep, login):
    page.set_viewport_size(PHONE)
    login("rep")
    toggle = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    # given: the menu starts folded
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    # when
    toggle.click()
    # then
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Leads")).to_be_visible()
    # and Escape folds it again, focus back on the button
    nav.get_by_role("link", name="Leads").focus()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()


def test_on_a_desktop_the_menu_is_always_shown_and_the_sidebar_spans_the_page(page, live_server, admin_user, login):
    page.set_viewport_size(DESKTOP)
    login("boss")
    page.goto(f"{live_server.url}/approvals/analytics/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    sidebar_height, page_height = page.evaluate(
        "[document.querySelector('.sidebar').getBoundingClientRect().height, document.documentElement.scrollHeight]"
    )
    assert sidebar_height == pytest.approx(page_height, abs=1)


def test_the_first_tab_stop_is_a_skip_link_to_the_content(page, live_server, sales_rep, login):
    login("rep")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # keyboard focus is visible
    page.keyboard.press("Enter")
    assert page.url.endswith("#content")


def test_the_tab_shows_our_own_icon(page, live_server, sales_rep, login):
    login("rep")
    href = page.get_attribute("link[rel=icon]", "href")
    assert href.startswith("/static/")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text()

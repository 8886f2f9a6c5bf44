"""In Chromium: a marketer builds a campaign from a brief, a manager approves it, the results show up."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import expect

from approvals.models import ApprovalPolicy, ApprovalRequest
from hitl_crm.accounts.roles import MANAGER, MARKETER
from marketing.handlers import SEND_CAMPAIGN
from marketing.models import Campaign, Segment, Send
from tests.factories import AccountFactory, ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SLOW = 15_000  # ms: steps that run the AI or a whole send in the request, on a shared 2-core box


@pytest.fixture(autouse=True)
def _marketing_urls(settings, live_server):
    settings.ROOT_URLCONF = "tests.marketing.urls"  # until the site mounts marketing/
    settings.HITL_CRM_SITE_URL = live_server.url  # tracking links in the emails point at this server


def to_customers() -> list:
    return [m for m in mail.outbox if m.to[0].endswith("@alpine.example")]


@pytest.fixture
def customers(roles):
    policy = ApprovalPolicy.objects.create(name="Campaign sends", action=SEND_CAMPAIGN, sla_minutes=480)
    policy.reviewer_groups.set(Group.objects.filter(name__in=[MARKETER, MANAGER]))
    account = AccountFactory(tier="premium", name="Alpine Lodge")
    people = [ContactFactory(account=account, email=f"guest{i}@alpine.example") for i in range(12)]
    ContactFactory(account=account, email="nope@alpine.example", email_consent=False)
    Segment.objects.create(name="Premium accounts", rules=[{"field": "account.tier", "op": "eq", "value": "premium"}])
    return people


def test_build_approve_send_and_read_the_results(page, live_server, login, screenshot, marketer, manager, customers):
    mail.outbox.clear()
    # the marketer writes a brief
    login("marketer")
    page.goto(f"{live_server.url}/marketing/")
    page.click("text=New campaign")
    page.fill("#id_name", "Trailblazer spring launch")
    page.fill("#id_brief", "Our new Trailblazer tent sets up in 3 minutes and keeps you dry. Order by 30 April.")
    page.fill("#id_product", "Trailblazer tent")
    page.fill("#id_audience_note", "lodge managers")
    page.fill("#id_default_body", "Hi {first_name},\n\nMeet the Trailblazer: https://shop.example/trailblazer\n\nMia")
    page.click("text=Create and write variants")
    expect(page.locator("h1")).to_contain_text("Trailblazer spring launch")
    # the AI proposes subject lines; the page stays (HTMX) while the variants panel fills
    page.evaluate("window.__stayed = true")
    page.fill("#id_n", "4")
    page.click("#generate")
    expect(page.locator(".mk-variant").nth(2)).to_be_visible(
        timeout=SLOW
    )  # the offline AI writes 3-4 distinct lines here
    expect(page.locator(".mk-variant .pill-ai").first).to_have_text("AI")
    assert page.evaluate("window.__stayed") is True
    # she shortlists two of them and approves the shortlist
    for _ in range(2):
        before = page.locator(".mk-variant-approved").count()
        page.locator("#variants button:text-is('Shortlist')").first.click()
        expect(page.locator(".mk-variant-approved")).to_have_count(before + 1, timeout=SLOW)
    screenshot("marketing-variants")
    page.click("#lock-variants")
    expect(page.locator(".msg-success")).to_contain_text("Shortlisted")
    # she picks the audience and sees the live count
    page.select_option("#id_segment", label="Premium accounts")
    expect(page.locator("#audience-count")).to_contain_text("12 can receive it", timeout=SLOW)
    expect(page.locator("#audience-count")).to_contain_text("13 in the segment")
    screenshot("marketing-audience")
    page.click("#submit-campaign")
    expect(page.locator(".msg-success")).to_contain_text("Nothing is sent until a colleague approves it")
    expect(page.locator("#progress")).to_contain_text("Waiting for approval")
    assert to_customers() == []  # (the reviewers were notified; no customer got anything)
    campaign = Campaign.objects.get(name="Trailblazer spring launch")
    req = ApprovalRequest.objects.get(action=SEND_CAMPAIGN)

    # a manager reviews the exact payload and approves it
    page.context.clear_cookies()
    login("manager")
    page.goto(f"{live_server.url}/approvals/{req.pk}/")
    expect(page.locator(".mk-review")).to_contain_text("12")
    expect(page.locator(".mk-review .mk-review-variant")).to_have_count(2)
    screenshot("marketing-review")
    page.click("button[value=approve]")
    expect(page.locator("#main .result-banner")).to_contain_text("Approved", timeout=SLOW)
    # every reachable contact got one email; the unconsented one none
    assert sorted(m.to[0] for m in to_customers()) == sorted(c.email for c in customers)
    assert not [m for m in mail.outbox if m.to == ["nope@alpine.example"]]

    # a recipient opens and clicks (the tracking links in the email)
    html = to_customers()[0].alternatives[0][0]
    pixel = re.search(r'<img src="([^"]+)"', html).group(1)
    click = re.search(r'<a href="([^"]+/marketing/t/c/[^"]+)"', html).group(1)
    assert pixel.startswith(live_server.url)
    assert page.request.get(pixel).status == 200
    response = page.request.get(click, max_redirects=0)
    assert response.status == 302
    assert response.headers["location"].startswith("https://shop.example/trailblazer?hc_ref=")

    # the marketer sees the sends and the results
    page.context.clear_cookies()
    login("marketer")
    page.goto(f"{live_server.url}{campaign.get_absolute_url()}")
    expect(page.locator("#progress")).to_contain_text("Sent to 12 people")
    page.click("text=See the results")
    expect(page.locator("#total-sent")).to_have_text("12")
    expect(page.locator("#verdict")).to_contain_text(re.compile(r"ahead but not significant|level so far"))
    expect(page.locator("svg.mk-intervals")).to_be_visible()
    expect(page.locator("#variant-results tbody tr")).to_have_count(2)
    screenshot("marketing-results")
    assert Send.objects.filter(campaign=campaign, clicked_at__isnull=False).count() == 1

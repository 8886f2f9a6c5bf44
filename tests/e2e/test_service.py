"""An agent opens a case, edits the AI's draft and approves it; the sent mail and the timeline show it."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from approvals.models import ApprovalRequest
from service.demo import ARTICLES
from service.inbound import build
from service.routing import service_policies_ensure
from service.services import inbound_message_receive, knowledge_article_seed
from tests.factories import ContactFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.service.urls_for_tests"),
]

PS = "\n\nPS: I have asked them to check on the parcel."  # a light edit: a rewrite needs a second reviewer


@pytest.fixture
def case_with_draft(roles):
    service_policies_ensure()
    for article in ARTICLES:
        knowledge_article_seed(published=True, **article)
    ContactFactory(first_name="Olivia", last_name="Andersen", email="olivia@trailhead.example")
    # autocommit: the pipeline runs as the message commits, as it would in production without a broker
    result = inbound_message_receive(
        mail=build(
            sender="Olivia Andersen <olivia@trailhead.example>",
            subject="Where is my order?",
            message_id="<e2e-1@mail.trailhead.example>",
            body="Hi, I ordered two rain shells last week (order NW-20411) and the tracking page has not changed for "
            "four days. <b>Where</b> is my order?",
        )
    )
    return result.case


def test_an_agent_edits_the_draft_approves_it_and_sees_the_reply_sent(
    page, live_server, support_agent, login, screenshot, case_with_draft
):
    mail.outbox.clear()
    login("agent")

    # the inbox lists the case with its triage
    page.click("nav >> text=Cases")
    expect(page.locator("#case-results")).to_contain_text("Where is my order?")
    expect(page.locator("#case-results")).to_contain_text("track order")
    screenshot("service-inbox")

    # the case page: thread (escaped), summary with the order number, suggested article, the AI draft
    page.click("#case-results >> text=Where is my order?")
    expect(page.locator(".thread")).to_contain_text("<b>Where</b> is my order?")
    expect(page.locator(".facts")).to_contain_text("NW-20411")
    expect(page.locator("#draft")).to_contain_text("AI draft")
    expect(page.locator("text=Delivery times and tracking").first).to_be_visible()
    page.evaluate("window.__stayed = true")
    edited = page.input_value("#draft-form textarea[name=body]").replace("\r\n", "\n") + PS
    page.fill("#draft-form textarea[name=body]", edited)
    screenshot("service-case-draft")

    # approve and send: decided through approvals, sent by the handler, shown without a reload
    page.click("#draft-form button[value=approve]")
    expect(page.locator("#conversation .result-banner")).to_have_text("Approved and sent.")
    expect(page.locator(".thread li.msg-out")).to_contain_text("I have asked them to check on the parcel.")
    expect(page.locator(".thread li.msg-out")).to_contain_text("approved by")
    assert page.evaluate("window.__stayed") is True
    screenshot("service-case-sent")

    # the sent mail: once, to the customer, threaded, with the edited text
    to_customer = [m for m in mail.outbox if m.to == ["olivia@trailhead.example"]]
    assert len(to_customer) == 1
    assert to_customer[0].body == edited
    assert to_customer[0].extra_headers["In-Reply-To"] == "<e2e-1@mail.trailhead.example>"
    assert ApprovalRequest.objects.get(object_id=str(case_with_draft.pk)).status == "executed"

    # the customer's timeline shows it
    page.click("text=Timeline →")
    expect(page.locator("body")).to_contain_text("Reply sent: Re: Where is my order?")
    screenshot("service-timeline")

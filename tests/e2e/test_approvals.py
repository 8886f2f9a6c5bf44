import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import expect

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pending_email(roles):
    policy = ApprovalPolicy.objects.create(
        name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=Group.objects.get(name=MANAGER)
    )
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    contact = ContactFactory(first_name="Olivia", email="olivia@customer.example")
    return approval_request_create(
        action=NOTIFY_EMAIL,
        subject=contact,
        confidence=0.62,
        risk="medium",
        flags=[
            {
                "code": "ungrounded_date",
                "message": "Mentions a delivery date not in any source",
                "span": "Friday",
                "severity": "high",
            }
        ],
        proposal={"to": contact.email, "subject": "Your order", "body": "Hi Olivia,\nit arrives Friday."},
    )


def test_a_reviewer_edits_and_approves_and_the_mail_goes_out_once(
    page, live_server, support_agent, login, screenshot, pending_email
):
    mail.outbox.clear()
    login("agent")
    expect(page.locator(".nav-link >> text=Review queue").locator("..").locator(".badge")).to_have_text("1")
    page.click("nav >> text=Review queue")
    expect(page.locator("#queue-results")).to_contain_text("1 waiting for you")
    screenshot("review-queue")
    page.click(f"a[href='/approvals/{pending_email.pk}/']")
    expect(page.locator(".flags")).to_contain_text("Mentions a delivery date not in any source")
    page.evaluate("window.__stayed = true")
    page.fill("textarea[name=edit_body]", "Hi Olivia,\nyour order is on its way; we will send tracking soon.")
    screenshot("review-detail")
    page.click("button[value=approve]")
    expect(page.locator("#main .result-banner")).to_contain_text("Approved")
    assert page.evaluate("window.__stayed") is True  # decided without a page reload
    page.reload()
    expect(page.locator("#main .result-banner")).to_have_text("Approved and done.")
    expect(page.locator("#main")).to_contain_text("Approve with edits")
    screenshot("review-done")
    to_customer = [m for m in mail.outbox if m.to == ["olivia@customer.example"]]
    assert len(to_customer) == 1
    assert to_customer[0].body == "Hi Olivia,\nyour order is on its way; we will send tracking soon."
    pending_email.refresh_from_db()
    assert pending_email.status == ApprovalRequest.Status.EXECUTED


def test_keyboard_reject_with_reason(page, live_server, support_agent, login, pending_email):
    mail.outbox.clear()
    login("agent")
    page.goto(f"{live_server.url}/approvals/{pending_email.pk}/")
    page.select_option("select[name=reason]", "wrong_facts")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("r")
    expect(page.locator("#main .result-banner")).to_contain_text("Rejected. Nothing was sent.")
    assert [m for m in mail.outbox if m.to == ["olivia@customer.example"]] == []


def test_a_reviewer_without_permission_never_sees_it(page, live_server, sales_rep, login, pending_email):
    login("rep")
    page.goto(f"{live_server.url}/approvals/")
    expect(page.locator("#queue-results")).to_contain_text("Nothing is waiting for you")
    response = page.goto(f"{live_server.url}/approvals/{pending_email.pk}/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")

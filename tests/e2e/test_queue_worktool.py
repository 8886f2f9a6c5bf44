"""The review queue as a work tool, in a browser: approve one item and land on the next."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _email(first_name: str, *, risk: str) -> ApprovalRequest:
    contact = ContactFactory(first_name=first_name, email=f"{first_name.lower()}@customer.example")
    return approval_request_create(
        action=NOTIFY_EMAIL,
        subject=contact,
        risk=risk,
        proposal={"to": contact.email, "subject": "Your order", "body": f"Hi {first_name},\nit ships today."},
    )


@pytest.fixture
def two_emails(roles):
    policy = ApprovalPolicy.objects.create(
        name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=Group.objects.get(name=MANAGER)
    )
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    later = _email("Liam", risk="low")
    first = _email("Olivia", risk="high")
    ApprovalRequest.objects.filter(pk=first.pk).update(due_at=timezone.now() - timedelta(minutes=10))
    return first, later


def test_approve_and_next_confirms_the_risky_item_then_opens_the_next(
    page, live_server, support_agent, login, screenshot, two_emails
):
    first, later = two_emails
    login("agent")
    page.goto(f"{live_server.url}/approvals/")
    rows = page.locator("#queue-results tbody tr")
    expect(rows.first).to_contain_text("Overdue")  # the overdue, high-risk item leads
    expect(rows.first.locator("a").first).to_have_attribute("href", f"/approvals/{first.pk}/")
    rows.first.locator("a").first.click()

    # the high-risk item refuses an approval without the confirmation
    page.click("button[value=approve_next]")
    expect(page.locator("#main")).to_contain_text("tick “I checked the amount/recipient”")
    first.refresh_from_db()
    assert first.status == ApprovalRequest.Status.PENDING

    page.check("input[name=confirmed]")
    screenshot("queue-approve-and-next")
    page.click("button[value=approve_next]")
    page.wait_for_url(f"{live_server.url}/approvals/{later.pk}/")
    expect(page.locator(".kv").first).to_contain_text("Liam")  # the next item's own page
    first.refresh_from_db()
    assert first.status != ApprovalRequest.Status.PENDING
    assert first.decisions.get().verdict == "approve"

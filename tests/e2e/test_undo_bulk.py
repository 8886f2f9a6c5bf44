"""In a browser: the undo window after an approval, and approving several routine items at once."""

import time

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import expect

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import SUPPORT_AGENT
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = ApprovalRequest.Status


@pytest.fixture
def emails(roles):
    policy = ApprovalPolicy.objects.create(name="Customer email", action=NOTIFY_EMAIL)
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])

    def make(*names: str) -> list[ApprovalRequest]:
        out = []
        for name in names:
            contact = ContactFactory(first_name=name, email=f"{name.lower()}@customer.example")
            out.append(
                approval_request_create(
                    action=NOTIFY_EMAIL,
                    subject=contact,
                    proposal={"to": contact.email, "subject": "Your order", "body": f"Hi {name},\nit ships today."},
                )
            )
        return out

    return make


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _wait_for_status(req: ApprovalRequest, status: str, seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        req.refresh_from_db()
        if req.status == status:
            return
        time.sleep(0.2)
    assert req.status == status


def test_undo_in_the_window_keeps_the_mail_from_going_out(
    page, live_server, support_agent, login, screenshot, emails, settings
):
    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 4
    (req,) = emails("Olivia")
    errors = _console_errors(page)
    login("agent")
    page.goto(f"{live_server.url}/approvals/{req.pk}/")
    page.click("button[value=approve]")
    banner = page.locator("[data-undo]").first
    expect(banner).to_contain_text("Sent in")
    screenshot("undo-window")
    banner.get_by_role("button", name="Undo").click()
    expect(page.locator(".msg").first).to_contain_text(f"Undone: #{req.pk} was not sent")
    req.refresh_from_db()
    assert req.status == Status.PENDING
    time.sleep(5)  # past the window's end: nothing goes out
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert not [m for m in mail.outbox if m.to == ["olivia@customer.example"]]
    assert errors == []


def test_without_an_undo_the_mail_goes_out_once_when_the_window_ends(
    page, live_server, support_agent, login, emails, settings
):
    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 2
    (req,) = emails("Liam")
    errors = _console_errors(page)
    login("agent")
    page.goto(f"{live_server.url}/approvals/{req.pk}/")
    page.click("button[value=approve]")
    banner = page.locator("[data-undo]").first
    expect(banner).to_contain_text("Sending now", timeout=6000)  # the countdown reached zero
    expect(banner.get_by_role("button", name="Undo")).to_be_hidden()
    _wait_for_status(req, Status.EXECUTED)
    assert len([m for m in mail.outbox if m.to == ["liam@customer.example"]]) == 1
    assert errors == []


def test_approve_selected_decides_the_ticked_rows_only(page, live_server, support_agent, login, screenshot, emails):
    first, second, third = emails("Ava", "Noah", "Mia")
    errors = _console_errors(page)
    login("agent")
    page.goto(f"{live_server.url}/approvals/")
    page.check(f"#bulk-{first.pk}")
    page.check(f"#bulk-{second.pk}")
    screenshot("queue-bulk")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("body")).to_contain_text("2 approved")
    for req, status in ((first, Status.EXECUTED), (second, Status.EXECUTED), (third, Status.PENDING)):
        req.refresh_from_db()
        assert req.status == status
    expect(page.locator("#queue-results tbody tr")).to_have_count(1)
    assert errors == []

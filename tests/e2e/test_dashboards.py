"""Role dashboards in a browser: each role opens on its own "Mine to do today", on a desktop and a phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER
from marketing.models import Campaign
from service.models import Case
from tests.factories import ContactFactory
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def _agent_work(user) -> tuple[str, str]:
    Case.objects.create(
        contact=ContactFactory(), subject="Stove sparked", owner=user, waiting_since=timezone.now() - timedelta(days=2)
    )
    return "Your open cases", "Stove sparked"


def _manager_work(user) -> tuple[str, str]:
    policy = ApprovalPolicy.objects.create(name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60)
    policy.reviewer_groups.set([Group.objects.get(name=MANAGER)])
    contact = ContactFactory(first_name="Olivia", last_name="Overdue", email="olivia@customer.example")
    req = approval_request_create(
        action=NOTIFY_EMAIL, subject=contact, proposal={"to": contact.email, "subject": "Order", "body": "Hi."}
    )
    ApprovalRequest.objects.filter(pk=req.pk).update(due_at=timezone.now() - timedelta(hours=1))
    return "Waiting for your decision", "Olivia Overdue"


def _rep_work(user) -> tuple[str, str]:
    LeadFactory(first_name="Hana", last_name="Hot", owner=user, tier="A", score=92)
    return "Your hot leads to contact", "Hana Hot"


def _marketer_work(user) -> tuple[str, str]:
    Campaign.objects.create(name="Spring boots", brief="b", status=Campaign.Status.IN_REVIEW, owner=user)
    return "Your campaigns", "Spring boots"


@pytest.mark.parametrize(
    ("role", "make_work"),
    [
        ("support_agent", _agent_work),
        ("manager", _manager_work),
        ("sales_rep", _rep_work),
        ("marketer", _marketer_work),
    ],
)
def test_each_role_opens_on_its_own_work_on_desktop_and_phone(
    page, live_server, login, screenshot, request, role, make_work
):
    # given
    user = request.getfixturevalue(role)
    title, label = make_work(user)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    for viewport in (DESKTOP, PHONE):
        # when
        page.set_viewport_size(viewport)
        if viewport is DESKTOP:
            login(user.username)
        else:
            page.reload()

        # then: the role's own section, with its item, first on the page; no broker talk; no sideways scroll
        section = page.get_by_role("region", name=title)
        expect(section).to_be_visible()
        expect(section.get_by_role("link", name=label)).to_be_visible()
        assert page.locator(".my-work-section h3").first.inner_text().startswith(title)
        expect(page.get_by_text("No task broker is configured")).to_have_count(0)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{role} @{viewport['width']}px scrolls sideways by {overflow}px"
        screenshot(f"dashboard-{role}-{viewport['width']}")
    assert errors == []

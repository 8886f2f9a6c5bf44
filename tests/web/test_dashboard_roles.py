"""The dashboard opens on "Mine to do today": each role sees its own work first, and only admins the broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_request_create
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT
from hitl_crm.web.selectors import dashboard_my_work
from leads.models import Lead, LeadEvent
from marketing.models import Campaign
from service.models import Case
from tests.factories import ContactFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

BROKER_WARNING = "No task broker is configured"


def _sections(response) -> dict[str, dict]:
    return {section["title"]: section for section in response.context["my_work"]}


def _labels(section: dict) -> list[str]:
    return [item["label"] for item in section["items"]]


def _case(owner, subject: str, *, waited_hours: float = 1, status: str = Case.Status.OPEN) -> Case:
    return Case.objects.create(
        contact=ContactFactory(),
        subject=subject,
        owner=owner,
        status=status,
        waiting_since=timezone.now() - timedelta(hours=waited_hours),
    )


@pytest.fixture
def email_policy(roles):
    """Customer emails are reviewed by support agents and managers."""
    policy = ApprovalPolicy.objects.create(
        name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60, escalation_group=Group.objects.get(name=MANAGER)
    )
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT), Group.objects.get(name=MANAGER)])
    return policy


def _email(first_name: str, *, overdue_minutes: int | None = None) -> ApprovalRequest:
    contact = ContactFactory(first_name=first_name, last_name="Example", email=f"{first_name.lower()}@c.example")
    req = approval_request_create(
        action=NOTIFY_EMAIL,
        subject=contact,
        proposal={"to": contact.email, "subject": "Your order", "body": f"Hi {first_name}, it ships today."},
    )
    if overdue_minutes is not None:
        ApprovalRequest.objects.filter(pk=req.pk).update(due_at=timezone.now() - timedelta(minutes=overdue_minutes))
    return req


def test_a_support_agent_sees_their_open_cases_overdue_first_and_the_replies_to_approve(
    client, support_agent, make_user, email_policy
):
    # given: two cases of the agent's (one waiting past the 24 h SLA), a colleague's, a resolved one
    colleague = make_user(SUPPORT_AGENT, username="colleague")
    _case(support_agent, "Printer jams", waited_hours=2)
    _case(support_agent, "Stove sparked", waited_hours=30)
    _case(colleague, "Someone else's problem")
    _case(support_agent, "Already fixed", status=Case.Status.RESOLVED)
    _email("Olivia")
    client.force_login(support_agent)

    # when
    response = client.get("/")

    # then: "Mine to do today" comes before the figures; cases overdue first; the draft to approve
    html = response.content.decode()
    assert html.index("Mine to do today") < html.index('class="stats"')
    sections = _sections(response)
    cases = sections["Your open cases"]
    assert _labels(cases) == ["Stove sparked", "Printer jams"]
    assert cases["items"][0]["badge"] == "Overdue"
    assert cases["note"] == "1 overdue"
    assert cases["count"] == 2
    assert _labels(sections["Waiting for your decision"]) == ["Olivia Example"]
    assert "Someone else&#x27;s problem" not in html
    assert "Already fixed" not in html
    # agents work neither leads nor campaigns
    assert "Your hot leads to contact" not in sections
    assert "Your campaigns" not in sections


def test_a_manager_sees_approvals_soonest_due_first_with_the_overdue_marked(client, manager, email_policy):
    # given: one request due later, one overdue by two hours, one by ten minutes
    _email("Later")
    _email("Oldest", overdue_minutes=120)
    _email("Recent", overdue_minutes=10)
    client.force_login(manager)

    # when
    response = client.get("/")

    # then: the approvals lead the page (the manager's empty sections come after), overdue first
    sections = response.context["my_work"]
    assert sections[0]["title"] == "Waiting for your decision"
    assert _labels(sections[0]) == ["Oldest Example", "Recent Example", "Later Example"]
    assert [item["badge"] for item in sections[0]["items"]] == ["Overdue", "Overdue", ""]
    assert sections[0]["note"] == "2 overdue"
    assert "overdue by 2" in sections[0]["items"][0]["detail"]
    assert all(not section["items"] for section in sections[1:])
    assert "2 overdue" in response.content.decode()


def test_a_sales_rep_sees_their_top_tier_leads_not_yet_contacted(client, sales_rep, make_user):
    # given
    other_rep = make_user("Sales rep", username="other-rep")
    LeadFactory(first_name="Hana", last_name="Hot", owner=sales_rep, tier="A", score=91)
    LeadFactory(first_name="Ada", last_name="Warm", owner=sales_rep, tier="A", score=80)
    LeadFactory(first_name="Bea", last_name="Btier", owner=sales_rep, tier="B", score=60)
    LeadFactory(first_name="Otto", last_name="Other", owner=other_rep, tier="A", score=95)
    LeadFactory(first_name="Wim", last_name="Working", owner=sales_rep, tier="A", status=Lead.Status.WORKING)
    emailed = LeadFactory(first_name="Emil", last_name="Emailed", owner=sales_rep, tier="A", score=99)
    LeadEvent.objects.create(lead=emailed, kind=LeadEvent.Kind.EMAIL_SENT)
    client.force_login(sales_rep)

    # when
    response = client.get("/")

    # then: hottest first, only the rep's own, tier A, new and never emailed
    leads = _sections(response)["Your hot leads to contact"]
    assert _labels(leads) == ["Hana Hot", "Ada Warm"]
    assert leads["items"][0]["badge"] == "Tier A"
    assert "score 91" in leads["items"][0]["detail"]
    assert response.context["my_work"][0]["title"] == "Your hot leads to contact"
    assert "Your open cases" not in _sections(response)


def test_a_marketer_sees_their_campaigns_waiting_or_running_their_move_first(client, marketer, make_user):
    # given
    colleague = make_user("Marketer", username="colleague")
    for name, status, owner in [
        ("Spring boots", Campaign.Status.IN_REVIEW, marketer),
        ("Autumn tents", Campaign.Status.TESTING, marketer),
        ("Winter draft", Campaign.Status.DRAFT, marketer),
        ("Old news", Campaign.Status.SENT, marketer),
        ("Not mine", Campaign.Status.IN_REVIEW, colleague),
    ]:
        Campaign.objects.create(name=name, brief="b", status=status, owner=owner)
    client.force_login(marketer)

    # when
    response = client.get("/")

    # then: the test that waits for the marketer to pick a winner comes before the one waiting for approval
    campaigns = _sections(response)["Your campaigns"]
    assert _labels(campaigns) == ["Autumn tents", "Spring boots"]
    assert [item["badge"] for item in campaigns["items"]] == ["Pick the winner", "Waiting for approval"]


def test_empty_sections_say_what_to_do_next(client, support_agent):
    # given: nothing assigned to the agent, nothing to approve
    client.force_login(support_agent)

    # when
    response = client.get("/")

    # then
    html = response.content.decode()
    cases = _sections(response)["Your open cases"]
    assert cases["items"] == []
    assert "Take the next one from the inbox" in html
    assert f'href="{cases["more_url"]}"' in html
    assert "owner=mine" not in cases["more_url"]  # with nothing of theirs, the link leads to the whole inbox
    assert "Nothing is waiting for your decision" in html


def test_a_user_without_a_role_gets_no_work_sections(client, nobody):
    client.force_login(nobody)
    response = client.get("/")
    assert response.context["my_work"] == []
    assert "Mine to do today" not in response.content.decode()


@pytest.mark.parametrize("fixture", ["support_agent", "manager", "sales_rep", "marketer"])
def test_the_broker_warning_is_not_shown_to_people_who_cannot_act_on_it(client, request, fixture):
    client.force_login(request.getfixturevalue(fixture))
    html = client.get("/").content.decode()
    assert BROKER_WARNING not in html
    assert "Background work" not in html


def test_admins_see_how_background_work_runs(client, admin_user):
    client.force_login(admin_user)
    assert BROKER_WARNING in client.get("/").content.decode()


def test_the_work_sections_cost_the_same_queries_for_n_and_n_plus_one_items(
    manager, email_policy, django_assert_num_queries
):
    # given: a manager (every section is theirs) with two of each kind of work
    def more_work(n: int) -> None:
        _email(f"Person{n}", overdue_minutes=5)
        _case(manager, f"Case {n}", waited_hours=30)
        LeadFactory(owner=manager, tier="A", score=50 + n)
        Campaign.objects.create(name=f"Campaign {n}", brief="b", status=Campaign.Status.IN_REVIEW, owner=manager)

    for n in range(2):
        more_work(n)
    dashboard_my_work(user=manager)  # warm the permission and content-type caches

    # when / then (5): the review queue's first rows, their subjects (one query per kind of subject:
    # contacts), the case rows, the lead rows, the campaign rows (a count is taken only when a section
    # is full) — and the same for one more of each
    with django_assert_num_queries(5):
        sections = dashboard_my_work(user=manager)
    assert [len(s["items"]) for s in sections] == [2, 2, 2, 2]
    more_work(2)
    with django_assert_num_queries(5):
        sections = dashboard_my_work(user=manager)
    assert [len(s["items"]) for s in sections] == [3, 3, 3, 3]

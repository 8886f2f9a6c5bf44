"""Leads in a real browser: the ranked list and its factors, an override, an import with progress,
and an AI follow-up that a colleague approves before it is sent."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import expect

from approvals.models import ApprovalPolicy, ApprovalRequest
from hitl_crm.accounts.roles import MANAGER, SALES_REP
from leads.followups import SEND_FOLLOWUP
from leads.models import Lead
from leads.scoring import leads_rescore
from tests.leads.factories import LeadEventFactory, LeadFactory, ScoringRuleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _leads_urls(settings):
    settings.ROOT_URLCONF = "tests.leads.urls"


@pytest.fixture
def pipeline(sales_rep):
    ScoringRuleFactory(name="Employees ≥ 200", path="employees", operator="gte", value=200, points=15)
    ScoringRuleFactory(name="Source = Referral", points=10)
    hot = LeadFactory(
        first_name="Hana",
        last_name="Hot",
        email="hana@northpeak.example",
        company="North Peak",
        source="Referral",
        employees=800,
        owner=sales_rep,
    )
    LeadEventFactory(lead=hot, kind="meeting", data={"title": "Intro call", "note": "Can you deliver in May?"})
    LeadFactory(first_name="Cole", last_name="Cold", source="Web form", employees=3, owner=sales_rep)
    leads_rescore()
    return hot


def test_a_rep_sees_the_hottest_prospects_and_why_then_corrects_a_score(
    page, live_server, sales_rep, login, screenshot, pipeline
):
    login("rep")
    page.click("nav >> text=Leads")
    rows = page.locator("#prospect-results tbody tr")
    expect(rows.first).to_contain_text("Hana Hot")
    expect(rows.nth(1)).to_contain_text("Cole Cold")
    rows.first.locator(".score-pop").hover()
    popover = rows.first.locator(".popover")
    expect(popover).to_be_visible()
    expect(popover).to_contain_text("Employees ≥ 200")
    expect(popover).to_contain_text("+15")
    screenshot("leads-prospects")
    page.select_option("#id_tier", "A")
    expect(page.locator("#prospect-results")).not_to_contain_text("Cole Cold")
    assert "tier=A" in page.url
    page.click("text=Hana Hot")
    page.click("text=Correct this score")
    page.fill("#id_score", "35")
    page.fill("#id_reason", "Budget moved to next quarter")
    page.click("button[value=set]")
    expect(page.locator("#score .big-score .n")).to_have_text("35")
    expect(page.locator("#score")).to_contain_text("Budget moved to next quarter")
    screenshot("leads-detail-override")
    assert Lead.objects.get(pk=pipeline.pk).override_score == 35


def test_the_rep_edits_and_approves_the_ai_follow_up_before_it_is_sent(
    page, live_server, sales_rep, manager, login, pipeline
):
    policy = ApprovalPolicy.objects.create(name="Lead follow-up", action=SEND_FOLLOWUP)
    policy.reviewer_groups.set(Group.objects.filter(name__in=[SALES_REP, MANAGER]))
    mail.outbox.clear()
    login("rep")
    page.goto(f"{live_server.url}/leads/{pipeline.pk}/")
    page.click("text=Draft a follow-up with AI")
    expect(page.locator("#followup")).to_contain_text("Waiting for approval", timeout=15_000)
    assert [m for m in mail.outbox if "hana@northpeak.example" in m.to] == []
    # the owning rep reviews, edits and approves it
    req = ApprovalRequest.objects.get(action=SEND_FOLLOWUP)
    page.goto(f"{live_server.url}/leads/{pipeline.pk}/")
    page.click("text=Review, edit and approve")
    # a light edit (a rewrite would need a second reviewer)
    edited = req.final["body"] + "\n\nPS: May works; I'll send the quote today."
    page.fill("textarea[name=edit_body]", edited)
    page.click("button[value=approve]")
    expect(page.locator("#main .result-banner")).to_contain_text("Approved")
    sent = [m for m in mail.outbox if "hana@northpeak.example" in m.to]
    assert len(sent) == 1
    assert sent[0].body == edited
    page.goto(f"{live_server.url}/leads/{pipeline.pk}/")
    expect(page.locator("#timeline")).to_contain_text("Email sent")
    req.refresh_from_db()
    assert req.status == "executed"


def test_a_manager_imports_a_csv_and_watches_it_finish(page, live_server, manager, login, tmp_path, screenshot):
    rows = "".join(f"p{i}@fair.example,Person {i},Fair Co {i},Trade show\r\n" for i in range(300))
    path = tmp_path / "fair.csv"
    path.write_bytes(("Email,Full Name,Company,Lead Source\r\n" + rows + "broken,Bad Row,X,Web\r\n").encode("cp1252"))
    login("manager")
    page.goto(f"{live_server.url}/leads/imports/")
    page.set_input_files("#id_file", str(path))
    page.click("text=Upload and map columns")
    expect(page.locator("h1")).to_have_text("fair.csv")
    expect(page.locator("#preview")).to_contain_text("Fair Co 0")
    screenshot("leads-import-mapping")
    page.click("text=Import 301 rows")
    expect(page.locator("#progress h2")).to_have_text("Imported", timeout=20_000)
    expect(page.locator("#progress")).to_contain_text("300")
    expect(page.locator("#progress")).to_contain_text("'broken' is not an email address.")
    screenshot("leads-import-done")
    assert Lead.objects.filter(source="Trade show").count() == 300


def test_a_manager_reads_the_models_figures_and_adds_a_rule(page, live_server, manager, login, screenshot):
    from leads.services import scoring_model_train
    from tests.leads.conftest import make_history

    make_history()
    model = scoring_model_train()
    login("manager")
    page.goto(f"{live_server.url}/leads/scoring/")
    expect(page.locator("#models")).to_contain_text(f"Model v{model.version}")
    expect(page.locator("#models .stat-n").first).to_have_text(str(model.metrics["roc_auc"]))
    expect(page.locator("svg.chart").first).to_be_visible()
    page.click("text=Add a rule")
    page.fill("#id_name", "Big company")
    page.select_option("#id_target", "field")
    page.fill("#id_path", "employees")
    page.select_option("#id_operator", "gte")
    page.fill("#id_value", "250")
    page.fill("#id_points", "15")
    page.click("text=Add rule")
    expect(page.locator("#rules")).to_contain_text("Big company")
    expect(page.locator("#rules")).to_contain_text("+15")
    screenshot("leads-scoring")

"""The leads pages: hottest prospects, the lead page, imports and scoring settings."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from approvals.models import ApprovalRequest
from leads.models import Lead, LeadImport, ScoringModel, ScoringRule
from leads.scoring import leads_rescore
from leads.services import lead_followup_draft, scoring_model_train
from tests.fakes import DownBackend, route_skills
from tests.leads.conftest import make_history
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def scored(sales_rep):
    ScoringRuleFactory(name="Employees ≥ 200", path="employees", operator="gte", value=200, points=15)
    ScoringRuleFactory(name="Source = Referral", points=10)
    hot = LeadFactory(first_name="Hana", last_name="Hot", source="Referral", employees=900, owner=sales_rep)
    warm = LeadFactory(first_name="Walt", last_name="Warm", source="Referral", employees=20)
    cold = LeadFactory(first_name="Cole", last_name="Cold", source="Web form", employees=5, owner=sales_rep)
    leads_rescore()
    return hot, warm, cold


def test_the_hottest_prospects_come_first_with_tier_and_factors(client, sales_rep, scored):
    client.force_login(sales_rep)
    response = client.get(reverse("leads:prospects"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Hana Hot") < html.index("Walt Warm") < html.index("Cole Cold")
    assert 'class="tier tier-A"' in html
    assert "Pushing it up" in html
    assert "Employees ≥ 200" in html


def test_filters_mine_and_tier(client, sales_rep, scored):
    client.force_login(sales_rep)
    mine = client.get(reverse("leads:prospects"), {"scope": "mine"}, **HX).content.decode()
    assert "Hana Hot" in mine
    assert "Cole Cold" in mine
    assert "Walt Warm" not in mine
    assert "<html" not in mine  # the HTMX partial only
    tier_a = client.get(reverse("leads:prospects"), {"tier": "A"}).content.decode()
    assert "Hana Hot" in tier_a
    assert "Walt Warm" not in tier_a
    # a stale link with a source nobody uses any more still filters by tier
    stale = client.get(reverse("leads:prospects"), {"tier": "A", "source": "Fax campaign"}).content.decode()
    assert "Hana Hot" in stale
    assert "Walt Warm" not in stale


def test_customer_text_is_escaped(client, sales_rep):
    ScoringRuleFactory(name="<b>bold</b> rule", path="source", value="x", points=5)
    LeadFactory(first_name="<script>alert(1)</script>", company="<img src=x onerror=alert(1)>", source="x")
    leads_rescore()
    client.force_login(sales_rep)
    html = client.get(reverse("leads:prospects")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html


@pytest.mark.parametrize("htmx", [False, True])
def test_the_ranked_list_costs_the_same_queries_for_n_and_n_plus_one_leads(
    client, sales_rep, manager, django_assert_num_queries, htmx
):
    ScoringRuleFactory(points=10)
    for i in range(5):
        LeadFactory(owner=sales_rep if i % 2 else manager, source="Referral")
    leads_rescore()
    client.force_login(sales_rep)
    headers = HX if htmx else {}
    client.get(reverse("leads:prospects"), **headers)  # warm caches (content types, permissions)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("leads:prospects"), **headers).status_code == 200
        return len(queries)

    n = count()
    LeadFactory(owner=manager, source="Referral")
    leads_rescore()
    # session, user, permissions, sources for the filter, count, the page (with owner and account joined)
    with django_assert_num_queries(n):
        client.get(reverse("leads:prospects"), **headers)


def test_roles_decide_who_sees_leads(client, support_agent, marketer, scored):
    client.force_login(support_agent)
    assert client.get(reverse("leads:prospects")).status_code == 403
    client.force_login(marketer)
    assert client.get(reverse("leads:prospects")).status_code == 200
    page = client.get(reverse("leads:detail", args=[scored[0].pk])).content.decode()
    assert "Correct this score" not in page
    assert "Draft a follow-up with AI" not in page


def test_the_lead_page_shows_the_score_its_factors_and_history(client, sales_rep, scored):
    hot = scored[0]
    client.force_login(sales_rep)
    html = client.get(reverse("leads:detail", args=[hot.pk])).content.decode()
    assert '<span class="n">100</span>' in html
    assert "Employees ≥ 200" in html
    assert "Score history" in html
    assert "<svg" in html  # the score-over-time chart


def test_overriding_from_the_lead_page(client, sales_rep, scored):
    hot = scored[0]
    client.force_login(sales_rep)
    url = reverse("leads:override", args=[hot.pk])
    bad = client.post(url, {"score": "150", "reason": ""}, **HX)
    assert bad.status_code == 422
    assert "Ensure this value is less than or equal to 100." in bad.content.decode()
    good = client.post(url, {"score": "20", "reason": "Went with a competitor last week", "action": "set"}, **HX)
    html = good.content.decode()
    assert good.status_code == 200
    assert "Went with a competitor last week" in html
    assert '<span class="n">20</span>' in html
    hot.refresh_from_db()
    assert (hot.score, hot.tier, hot.override_by) == (20, "D", sales_rep)
    cleared = client.post(url, {"action": "clear"}, **HX)
    assert '<span class="n">100</span>' in cleared.content.decode()


def test_drafting_a_follow_up_from_the_lead_page(client, sales_rep, followup_policy, scored, on_commit):
    mail.outbox.clear()
    hot = scored[0]
    client.force_login(sales_rep)
    with on_commit():
        client.post(reverse("leads:followup", args=[hot.pk]), **HX)  # queued on the "ai" queue, runs after commit
    response = client.get(reverse("leads:followup", args=[hot.pk]), **HX)
    html = response.content.decode()
    assert "Waiting for approval" in html
    assert "another reviewer must decide this" not in html  # the owning rep reviews the AI's draft
    assert ApprovalRequest.objects.get().status == "pending"
    assert [m for m in mail.outbox if hot.email in m.to] == []


def test_when_the_ai_cannot_draft_the_page_says_so_and_offers_to_write_it(
    client, sales_rep, followup_policy, scored, settings, on_commit
):
    route_skills(settings, "draft_followup", backend=DownBackend)
    hot = scored[0]
    client.force_login(sales_rep)
    with on_commit():
        drafting = client.post(reverse("leads:followup", args=[hot.pk]), **HX).content.decode()
    assert "The AI is drafting a follow-up" in drafting
    assert 'hx-trigger="every 2s"' in drafting
    html = client.get(reverse("leads:followup", args=[hot.pk]), **HX).content.decode()
    assert "AI could not draft this; write it yourself" in html
    written = client.post(
        reverse("leads:followup_write", args=[hot.pk]),
        {"subject": "Quick question", "body": "Hi Hana,\r\nare you free on Friday?"},
        **HX,
    )
    assert "Waiting for approval" in written.content.decode()
    req = ApprovalRequest.objects.get()
    assert (req.requested_by, req.final["body"]) == (sales_rep, "Hi Hana,\nare you free on Friday?")


def test_a_reviewer_sees_the_draft_linked_from_the_lead_page(client, manager, followup_policy, scored):
    hot = scored[0]
    req = lead_followup_draft(lead=hot).request
    client.force_login(manager)
    html = client.get(reverse("leads:detail", args=[hot.pk])).content.decode()
    assert reverse("approvals:detail", args=[req.pk]) in html
    assert "Review, edit and approve" in html
    review = client.get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert "Following up" in review
    assert hot.email in review


# --- imports -------------------------------------------------------------------------------------


def test_upload_map_preview_import_and_download_the_errors(client, manager, on_commit):
    client.force_login(manager)
    upload = SimpleUploadedFile(
        "fair.csv", "E-mail;Naam;Bedrijf;Stand\r\nan@x.example;An;Xco;A12\r\nbad-email;Bo;Yco;B3\r\n".encode("cp1252")
    )
    response = client.post(reverse("leads:imports"), {"file": upload})
    imp = LeadImport.objects.get()
    assert response.url == reverse("leads:import_detail", args=[imp.pk])
    page = client.get(response.url).content.decode()
    assert "read as UTF-8" in page or "read as Windows-1252" in page
    assert "Map the columns" in page
    mapping = {
        "col_0": "field:email",
        "col_1": "field:first_name",
        "col_2": "field:company",
        "col_3": "attribute:Stand",
    }
    preview = client.post(reverse("leads:import_preview", args=[imp.pk]), mapping, **HX).content.decode()
    assert "Line 3" in preview
    assert "&#x27;bad-email&#x27; is not an email address." in preview
    with on_commit():
        started = client.post(reverse("leads:import_detail", args=[imp.pk]), mapping)
    assert started.status_code == 302
    progress = client.get(reverse("leads:import_progress", args=[imp.pk]), **HX).content.decode()
    assert "<progress" in progress
    assert 'hx-trigger="every 1s"' not in progress  # finished: polling stops
    assert "Download the rows that were not imported" in progress
    csv_text = client.get(reverse("leads:import_errors", args=[imp.pk])).content.decode()
    assert "bad-email" in csv_text
    assert Lead.objects.get(email="an@x.example").attributes == {"Stand": "A12"}


def test_the_progress_partial_polls_while_running(client, manager):
    imp = LeadImport.objects.create(
        file_name="x.csv",
        content="Email\na@b.example\n",
        encoding="UTF-8",
        headers=["Email"],
        status=LeadImport.Status.RUNNING,
        total_rows=400,
        processed_rows=100,
    )
    client.force_login(manager)
    html = client.get(reverse("leads:import_progress", args=[imp.pk]), **HX).content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'max="400" value="100"' in html
    assert "25%" in html


def test_support_agents_cannot_import(client, support_agent):
    client.force_login(support_agent)
    assert client.get(reverse("leads:imports")).status_code == 403
    upload = SimpleUploadedFile("leads.csv", b"Email,Name\nann@x.example,Ann\n", content_type="text/csv")
    assert client.post(reverse("leads:imports"), {"file": upload}).status_code == 403
    assert not LeadImport.objects.exists()


# --- scoring settings ----------------------------------------------------------------------------


def test_managers_see_the_models_metrics_and_the_distribution_chart(client, manager):
    make_history()
    model = scoring_model_train()
    leads_rescore()
    client.force_login(manager)
    html = client.get(reverse("leads:scoring")).content.decode()
    assert f"Model v{model.version}" in html
    assert str(model.metrics["roc_auc"]) in html
    assert "hold-out ROC AUC" in html
    assert "Won (" in html  # the distribution chart's legend
    assert "score = 70% × model probability × 100 + 30% × rule points" in html


def test_sales_reps_cannot_open_scoring_settings(client, sales_rep):
    client.force_login(sales_rep)
    assert client.get(reverse("leads:scoring")).status_code == 403
    response = client.post(reverse("leads:rule_add"), {"name": "Sneaky", "target": "field", "path": "source"})
    assert response.status_code == 403
    assert not ScoringRule.objects.filter(name="Sneaky").exists()


def test_adding_toggling_and_deleting_rules(client, manager, on_commit):
    lead = LeadFactory(employees=400)
    client.force_login(manager)
    bad = client.post(
        reverse("leads:rule_add"),
        {"name": "Big", "target": "field", "path": "employees", "operator": "gte", "value": "lots", "points": "15"},
        **HX,
    )
    assert bad.status_code == 422
    assert "Give a number to compare with." in bad.content.decode()
    with on_commit():
        ok = client.post(
            reverse("leads:rule_add"),
            {"name": "Big", "target": "field", "path": "employees", "operator": "gte", "value": "200", "points": "15"},
            **HX,
        )
    assert ok.status_code == 200
    rule = ScoringRule.objects.get(name="Big")
    assert rule.value == 200
    assert Lead.objects.get(pk=lead.pk).score == 100  # every lead was rescored
    client.post(reverse("leads:rule_toggle", args=[rule.pk]), **HX)
    assert ScoringRule.objects.get(pk=rule.pk).active is False
    client.post(reverse("leads:rule_delete", args=[rule.pk]), **HX)
    assert not ScoringRule.objects.exists()


def test_retrain_and_go_back_to_an_older_version(client, manager, on_commit):
    make_history()
    first = scoring_model_train()
    client.force_login(manager)
    with on_commit():
        response = client.post(reverse("leads:train"), {"features": ["source", "site_visits_30d"]}, **HX)
    assert "Training started" in response.content.decode()
    second = ScoringModel.objects.get(version=2)
    assert second.active
    assert [f["name"] for f in second.params["features"]] == ["source", "site_visits_30d"]
    client.post(reverse("leads:model_activate", args=[first.pk]), **HX)
    assert ScoringModel.objects.get(active=True) == first


def test_retraining_without_enough_data_says_so(client, manager, on_commit):
    client.force_login(manager)
    with on_commit():
        html = client.post(reverse("leads:train"), {}, **HX).content.decode()
    assert "Not trained: 0 won, lost or overridden leads so far" in html
    assert not ScoringModel.objects.exists()


def test_the_dashboard_counts_a_tier_prospects(sales_rep, support_agent, scored):
    from django.apps import apps

    config = apps.get_app_config("leads")
    stats = {s["label"]: s for s in config.dashboard_stats(sales_rep)}
    assert stats["A-tier prospects"]["value"] == 1
    assert stats["A-tier prospects"]["url"] == f"{reverse('leads:prospects')}?tier=A"
    assert stats["My open leads"]["value"] == 2
    assert config.dashboard_stats(support_agent) == []


def test_the_navigation_shows_leads_to_roles_that_work_them(client, sales_rep, support_agent):
    client.force_login(sales_rep)
    assert f'href="{reverse("leads:prospects")}"' in client.get(reverse("web:contact_list")).content.decode()
    client.force_login(support_agent)
    assert f'href="{reverse("leads:prospects")}"' not in client.get(reverse("web:contact_list")).content.decode()

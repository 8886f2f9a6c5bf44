"""The marketing pages: build a campaign from a brief, see the audience live, read the results."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from marketing.models import Campaign, ContactScore, Segment, Send, Variant
from marketing.services import campaign_create, campaign_submit, variant_create
from tests.factories import ContactFactory
from tests.fakes import DownBackend, route_skills
from tests.marketing.conftest import shortlisted, split_evenly

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_campaign_list_costs_the_same_queries_for_n_and_n_plus_one(
    client, marketer, make_campaign, django_assert_max_num_queries
):
    # given: campaigns with sends (the counters come from one grouped query per page)
    client.force_login(marketer)
    for i in range(3):
        make_campaign(arms=2, name=f"Campaign {i}")
    client.get(reverse("marketing:campaigns"))  # warm caches (content types, permissions)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as three:
        assert client.get(reverse("marketing:campaigns")).status_code == 200
    make_campaign(arms=1, name="Campaign 4")
    with CaptureQueriesContext(connection) as four:
        response = client.get(reverse("marketing:campaigns"))
    # session, user, groups/permissions, count, page, send counters, nav, user groups
    assert len(four) == len(three)
    assert response.content.count(b'href="/marketing/') >= 4


def test_sales_reps_read_campaigns_and_segments_but_build_nothing(client, sales_rep, make_campaign):
    campaign = make_campaign(arms=1)
    client.force_login(sales_rep)
    assert client.get(reverse("marketing:campaigns")).status_code == 200
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "Subject A" in page
    assert "Submit for approval" not in page
    assert "Cancel campaign" not in page
    assert client.get(reverse("marketing:segments")).status_code == 200
    assert client.get(reverse("marketing:campaign_create")).status_code == 403
    assert client.post(reverse("marketing:campaign_submit", args=[campaign.pk])).status_code == 403


def test_building_a_campaign_from_a_brief(client, marketer, everyone, audience, campaign_policy):
    client.force_login(marketer)
    # step 1: the brief
    response = client.post(
        reverse("marketing:campaign_create"),
        {
            "name": "Trailblazer launch",
            "brief": "Our new Trailblazer tent sets up in 3 minutes and keeps you dry.",
            "product": "Trailblazer tent",
            "audience_note": "scout leaders",
            "copy_kind": "subject",
            "default_body": "Hi {first_name},\n\nhttps://shop.example/tents",
        },
    )
    campaign = Campaign.objects.get(name="Trailblazer launch")
    assert response.status_code == 302
    assert response["Location"] == campaign.get_absolute_url()
    # step 2: the AI proposes subject lines from the brief (HTMX swaps the variants panel)
    panel = client.post(reverse("marketing:campaign_generate", args=[campaign.pk]), {"n": 4}, **HTMX)
    assert panel.status_code == 200
    assert b'id="variants"' in panel.content
    assert b"<html" not in panel.content
    proposals = list(campaign.variants.all())
    assert 3 <= len(proposals) <= 4
    assert {v.origin for v in proposals} == {"ai"}
    assert all(
        v.subject.encode() in panel.content or v.subject.replace("'", "&#x27;").encode() in panel.content
        for v in proposals
    )
    # the marketer shortlists two, rejects one and edits one
    for variant in proposals[:2]:
        client.post(reverse("marketing:variant_status", args=[campaign.pk, variant.pk]), {"status": "approved"}, **HTMX)
    client.post(
        reverse("marketing:variant_status", args=[campaign.pk, proposals[2].pk]), {"status": "rejected"}, **HTMX
    )
    client.post(
        reverse("marketing:variant_edit", args=[campaign.pk, proposals[0].pk]),
        {
            "subject": "Set up camp in 3 minutes",
            "preheader": "New for spring",
            "body": "Hi!\n\nhttps://x.example",
            "style": proposals[0].style,
        },
        **HTMX,
    )
    assert [v.subject for v in shortlisted(campaign)][0] == "Set up camp in 3 minutes"
    client.post(reverse("marketing:campaign_lock", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.VARIANTS_APPROVED
    # step 3: the audience, with a live count and the calculator's cell sizes
    live = client.post(
        reverse("marketing:campaign_audience", args=[campaign.pk]),
        {
            "segment": everyone.pk,
            "test_metric": "click",
            "baseline_pct": "3",
            "mde_pct": "1",
            "power_pct": "80",
        },
        **HTMX,
    )
    text = live.content.decode()
    assert '<strong class="mk-big">10</strong> can receive it' in text
    assert "12 in the segment" in text
    assert "5,301 per variant the calculator asks for" in text  # 10 people cannot power a 3% → 4% test
    # step 4: submit for approval
    response = client.post(reverse("marketing:campaign_submit", args=[campaign.pk]), follow=True)
    assert b"Nothing is sent until a colleague approves it" in response.content
    req = ApprovalRequest.objects.get(action="marketing.send_campaign")
    assert req.final["audience_size"] == 10
    assert len(req.final["variants"]) == 2
    assert mail.outbox == []


def test_ai_and_customer_text_is_escaped_everywhere(client, marketer, manager, make_campaign, campaign_policy):
    # given: copy containing markup, submitted for approval
    campaign = make_campaign(arms=1, lock=False)
    variant_create(
        campaign=campaign, actor=marketer, subject="<img src=x onerror=alert(1)>", body="<script>alert('body')</script>"
    )
    client.force_login(marketer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert(" not in page
    # the reviewer's view of the payload escapes it too
    campaign.variants.exclude(subject__startswith="<img").update(status=Variant.Status.REJECTED)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.VARIANTS_APPROVED)
    req = campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk), actor=marketer)
    client.force_login(manager)
    review = client.get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in review
    assert "<img src=x onerror" not in review
    assert "&lt;script&gt;alert(&#x27;body&#x27;)&lt;/script&gt;" in review


def test_the_results_page_shows_rates_intervals_and_a_plain_verdict(
    client, marketer, colleague, make_campaign, campaign_policy, on_commit
):
    # given: an A/B test sent to ten contacts, where B's recipients clicked more
    campaign = make_campaign(arms=2)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    a, b = split_evenly(campaign)  # 5 and 5
    now = timezone.now()
    clicked = Send.objects.filter(campaign=campaign, variant=b).order_by("pk")[:1].values_list("pk", flat=True)
    Send.objects.filter(pk__in=list(clicked)).update(clicked_at=now, opened_at=now - timedelta(hours=1))
    client.force_login(marketer)
    # when
    page = client.get(reverse("marketing:campaign_results", args=[campaign.pk])).content.decode()
    # then
    assert "B is ahead but not significant yet" in page
    assert 'class="chart mk-intervals"' in page
    assert page.count('class="whisker"') == 6
    assert "Opens and clicks per day" in page
    assert "polyline" in page
    assert 'id="variant-results"' in page


def test_a_person_confirms_the_winner_from_the_results_page(
    client, marketer, colleague, campaign_policy, make_campaign, on_commit
):
    for i in range(70):
        ContactFactory(email=f"extra{i}@customer.example")
    campaign = make_campaign(arms=2, baseline_rate=0.3, min_detectable_effect=0.45)
    with on_commit():
        req = campaign_submit(campaign=campaign, actor=marketer)
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    a, b = shortlisted(campaign)
    client.force_login(marketer)
    page = client.get(reverse("marketing:campaign_results", args=[campaign.pk])).content.decode()
    remainder = Send.objects.filter(campaign=campaign, phase="winner").count()
    assert f"Send the winner to the remaining {remainder}" in page
    sent_before = len(mail.outbox)
    response = client.post(reverse("marketing:campaign_winner", args=[campaign.pk]), {"variant": b.pk}, follow=True)
    assert b"The winner is waiting for approval" in response.content
    winner = ApprovalRequest.objects.filter(action="marketing.send_campaign").latest("pk")
    assert winner.final["phase"] == "winner"
    assert winner.final["variants"][0]["id"] == b.pk
    assert len(mail.outbox) == sent_before


def test_the_segment_builder_counts_live_and_shows_churn(client, marketer, audience):
    ContactScore.objects.create(
        contact=audience[0],
        kind="churn",
        value=0.91,
        model_version=1,
        factors=[{"feature": "tenure_months", "value": 2, "effect": 1.2}],
    )
    client.force_login(marketer)
    assert client.get(reverse("marketing:segment_create")).status_code == 200
    rules = {
        "rule-field": ["score.churn"],
        "rule-key": [""],
        "rule-op": ["gte"],
        "rule-value": ["0.5"],
        "rule-days": ["90"],
    }
    live = client.post(reverse("marketing:segment_count"), rules, **HTMX).content.decode()
    assert 'id="matching-count">1</strong>' in live
    assert "high 0.91" in live
    assert "tenure_months = 2 (raises it)" in live
    # a bad value is explained instead of counted
    bad = client.post(reverse("marketing:segment_count"), {**rules, "rule-value": ["2"]}, **HTMX).content.decode()
    assert "between 0 and 1" in bad
    # "add a condition" gives one more row; choosing a field narrows its conditions
    rows = client.post(reverse("marketing:segment_rules"), {**rules, "add": "1"}, **HTMX).content.decode()
    assert rows.count('name="rule-field"') == 2
    assert '<option value="contains"' not in rows.split('name="rule-field"')[1].split("</div>")[0]
    # saving keeps the rules
    response = client.post(reverse("marketing:segment_create"), {"name": "At risk", **rules})
    segment = Segment.objects.get(name="At risk")
    assert response.status_code == 302
    assert segment.rules == [{"field": "score.churn", "op": "gte", "value": 0.5}]
    listing = client.get(reverse("marketing:segments")).content.decode()
    assert "At risk" in listing
    assert "Churn risk (0–1) at least 0.5" in listing
    assert reverse("marketing:segment_size", args=[segment.pk]) in listing  # the count loads by itself
    size = client.get(reverse("marketing:segment_size", args=[segment.pk]), **HTMX).content.decode()
    assert size == f'<span id="size-{segment.pk}">1 · <strong>1</strong></span>'


def test_the_dashboard_counts_campaigns_waiting_for_approval(client, marketer, make_campaign, campaign_policy):
    campaign_submit(campaign=make_campaign(), actor=marketer)
    client.force_login(marketer)
    page = client.get(reverse("web:dashboard")).content.decode()
    assert "Campaigns awaiting approval" in page


def test_generation_failure_keeps_the_work_and_says_why(client, marketer, settings):
    route_skills(settings, "copy_variants", backend=DownBackend)
    campaign = campaign_create(actor=marketer, name="Offline", brief="Our stove boils water in 90 seconds.")
    client.force_login(marketer)
    panel = client.post(reverse("marketing:campaign_generate", args=[campaign.pk]), {"n": 3}, **HTMX)
    assert b"The AI could not write variants" in panel.content
    assert DownBackend.message in panel.content.decode()
    assert campaign.variants.count() == 0
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT


def test_the_segment_list_costs_the_same_queries_for_n_and_n_plus_one(client, marketer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(marketer)
    for name in ("A", "B"):
        Segment.objects.create(name=name, rules=[{"field": "score.churn", "op": "gte", "value": 0.5}])
    client.get(reverse("marketing:segments"))
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("marketing:segments"))
    Segment.objects.create(name="C", rules=[])
    with CaptureQueriesContext(connection) as three:
        page = client.get(reverse("marketing:segments")).content.decode()
    # session, user, permissions, count, page of segments with owners, nav; counts load per row afterwards
    assert len(three) == len(two)
    assert page.count('hx-trigger="load"') == 3


def test_contact_badges_name_the_churn_risk_and_why(marketer, sales_rep, nobody, audience):
    from django.apps import apps

    ContactScore.objects.create(
        contact=audience[0],
        kind="churn",
        value=0.82,
        model_version=1,
        factors=[{"feature": "tenure_months", "value": 2, "effect": 1.1}],
    )
    config = apps.get_app_config("marketing")
    assert config.contact_badges(audience[0], sales_rep) == [
        {"label": "Churn risk", "value": "high 0.82", "css": "pill-high", "title": "tenure_months (raises it)"}
    ]
    assert config.contact_badges(audience[0], nobody) == []

"""Rules, the learned model and how they blend into one score."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Lead, LeadEvent, LeadScoreHistory, ScoringRule
from leads.scoring import RESCORE_SCHEDULED_KEY, leads_rescore, tier_of
from leads.services import (
    lead_event_record,
    lead_score_override,
    lead_update,
    scoring_model_train,
    scoring_rule_save,
)
from tests.leads.conftest import make_history
from tests.leads.factories import LeadEventFactory, LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db


def _rules() -> None:
    ScoringRuleFactory(name="Employees ≥ 200", path="employees", operator="gte", value=200, points=15)
    ScoringRuleFactory(name="Source = Referral", path="source", operator="eq", value="referral", points=10)
    ScoringRuleFactory(name="Cold outreach", path="source", operator="eq", value="Cold outreach", points=-20)
    ScoringRuleFactory(
        name="Visited pricing in 14 days",
        target="engagement",
        path="site_visit",
        operator="gte",
        value=1,
        within_days=14,
        event_match={"page": "pricing"},
        points=25,
    )


def test_rules_alone_give_the_share_of_the_best_possible_points():
    # given rules worth 15 + 10 + 25 = 50 positive points, and no model
    _rules()
    big_referral = LeadFactory(employees=500, source="Referral")
    small_cold = LeadFactory(employees=5, source="Cold outreach")
    LeadEventFactory(lead=big_referral, data={"page": "/pricing"}, occurred_at=timezone.now() - timedelta(days=3))
    # when
    leads_rescore()
    # then every positive rule matched: 50 of 50 points; the cold lead is floored at 0
    big_referral.refresh_from_db()
    small_cold.refresh_from_db()
    assert (big_referral.rules_points, big_referral.score, big_referral.tier) == (50, 100, "A")
    assert (small_cold.rules_points, small_cold.score, small_cold.tier) == (-20, 0, "D")
    assert big_referral.model_probability is None
    assert big_referral.model_version is None
    assert {f["label"] for f in big_referral.score_factors} == {
        "Employees ≥ 200",
        "Source = Referral",
        "Visited pricing in 14 days",
    }
    assert small_cold.negative_factors == [{"label": "Cold outreach", "value": -20, "kind": "rule"}]


def test_engagement_rules_look_back_only_as_far_as_asked_and_match_event_data():
    # given one lead that saw pricing 20 days ago and one that saw the blog yesterday
    _rules()
    stale = LeadFactory()
    blog = LeadFactory()
    LeadEventFactory(lead=stale, data={"page": "/pricing"}, occurred_at=timezone.now() - timedelta(days=20))
    LeadEventFactory(lead=blog, data={"page": "/blog/tents"}, occurred_at=timezone.now() - timedelta(days=1))
    # when
    leads_rescore()
    # then neither gets the 25 pricing points
    assert list(Lead.objects.filter(pk__in=[stale.pk, blog.pk]).values_list("rules_points", flat=True)) == [0, 0]


def test_model_and_rules_blend_by_the_documented_formula(settings):
    # given a trained model and rules, w = 0.7
    settings.HITL_CRM_LEADS_MODEL_WEIGHT = 0.7
    make_history()
    _rules()
    scoring_model_train()
    leads = [
        LeadFactory(source=s, employees=e) for s, e in [("Referral", 500), ("Web form", 20), ("Cold outreach", 300)]
    ]
    # when
    leads_rescore()
    # then score = round(0.7 · p · 100 + 0.3 · 100 · clip(points / 50, 0, 1))
    for lead in Lead.objects.filter(pk__in=[x.pk for x in leads]):
        expected = round(0.7 * lead.model_probability * 100 + 0.3 * 100 * min(max(lead.rules_points / 50, 0), 1))
        assert lead.score == expected
        assert lead.tier == tier_of([expected])[0]
        assert lead.model_version == 1
        kinds = {f["kind"] for f in lead.score_factors}
        assert "model" in kinds


def test_without_positive_rules_the_model_gives_the_whole_score():
    make_history()
    scoring_model_train()
    lead = LeadFactory(source="Referral")
    leads_rescore(ids=[lead.pk])
    lead.refresh_from_db()
    assert lead.score == round(lead.model_probability * 100)


def test_the_model_learns_what_converts():
    # given history in which referrals convert and cold outreach does not
    make_history()
    model = scoring_model_train()
    hot, cold = LeadFactory(source="Referral"), LeadFactory(source="Cold outreach")
    # when
    leads_rescore()
    hot.refresh_from_db()
    cold.refresh_from_db()
    # then
    assert hot.score > cold.score
    assert hot.model_probability > cold.model_probability
    assert model.active
    assert model.metrics["n_train"] + model.metrics["n_test"] == 240
    assert {"Lead source: Referral"} <= {f["label"] for f in hot.positive_factors}
    assert {"Lead source: Cold outreach"} <= {f["label"] for f in cold.negative_factors}


def test_tier_thresholds_come_from_settings(settings):
    settings.HITL_CRM_LEADS_TIER_THRESHOLDS = {"A": 90, "B": 60, "C": 30}
    assert tier_of([95, 89, 60, 59, 30, 29]) == ["A", "B", "B", "C", "C", "D"]


def test_closed_leads_are_scored_as_of_the_day_they_closed():
    # given a won lead with a purchase after the win, and a rule for past customers
    ScoringRuleFactory(name="Past customer", target="engagement", path="purchase", operator="gte", value=1, points=10)
    ScoringRuleFactory(name="Source = Referral", points=10)
    closed_at = timezone.now() - timedelta(days=10)
    lead = LeadFactory(status=Lead.Status.WON, source="Web form")
    Lead.objects.filter(pk=lead.pk).update(closed_at=closed_at)
    LeadEventFactory(lead=lead, kind=LeadEvent.Kind.PURCHASE, amount=500, occurred_at=closed_at + timedelta(days=2))
    # when
    leads_rescore()
    # then the purchase that followed the win does not count (it would leak the outcome into training)
    lead.refresh_from_db()
    assert lead.rules_points == 0


def test_an_override_survives_rescoring_and_history_records_changes(admin_user):
    _rules()
    lead = LeadFactory(employees=500)
    leads_rescore()
    lead_score_override(lead=lead, score=90, reason="Board approved budget", actor=admin_user)
    ScoringRule.objects.filter(name="Employees ≥ 200").update(points=8)
    # when
    leads_rescore()
    # then the person's score stands; the computed one moved underneath (8 of 43 points)
    lead.refresh_from_db()
    assert (lead.score, lead.tier, lead.override_score) == (90, "A", 90)
    assert lead.computed_score == round(100 * 8 / 43)
    sources = list(LeadScoreHistory.objects.filter(lead=lead).order_by("id").values_list("source", "score"))
    assert sources == [("computed", 30), ("override", 90)]


def test_history_grows_only_when_the_score_changes():
    _rules()
    lead = LeadFactory(employees=500)
    leads_rescore()
    leads_rescore()
    assert LeadScoreHistory.objects.filter(lead=lead).count() == 1
    ScoringRule.objects.filter(name="Source = Referral").update(points=30)
    leads_rescore()
    assert list(LeadScoreHistory.objects.filter(lead=lead).order_by("id").values_list("score", flat=True)) == [
        round(100 * 15 / 50),
        round(100 * 15 / 70),
    ]


def test_bulk_persistence_methods_write_the_same_rows():
    from django.db import connection

    from leads.scoring import PERSISTED_FIELDS

    def one_update_per_lead(rows: list[tuple]) -> None:
        """The plainest strategy, passed in as a function (as the benchmark passes its own)."""
        for row in rows:
            Lead.objects.filter(pk=row[0]).update(**dict(zip(PERSISTED_FIELDS, row[1:], strict=True)))

    _rules()
    leads = LeadFactory.create_batch(30, employees=300)
    results = {}
    methods = ["executemany", one_update_per_lead] + (["json"] if connection.vendor == "postgresql" else [])
    for method in methods:
        Lead.objects.update(score=None, tier="", computed_score=None, score_factors=[])
        leads_rescore(method=method, history=False)
        results[str(method)] = list(
            Lead.objects.order_by("id").values_list("score", "tier", "rules_points", "score_factors")
        )
    assert all(rows == results["executemany"] for rows in results.values())
    assert len(results["executemany"]) == len(leads)
    assert results["executemany"][0][:3] == (round(100 * 15 / 50), "C", 15)


def test_an_unknown_persistence_method_is_refused_by_name():
    _rules()
    LeadFactory()
    with pytest.raises(ValueError, match="Unknown persistence method 'bulk_update'"):
        leads_rescore(method="bulk_update")


def test_rules_are_validated_so_they_can_always_run(manager):
    with pytest.raises(ValidationError) as error:
        scoring_rule_save(
            actor=manager,
            data={
                "name": "Bad",
                "target": "field",
                "path": "favourite_colour",
                "operator": "eq",
                "value": "blue",
                "points": 5,
            },
        )
    assert "path" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        scoring_rule_save(
            actor=manager,
            data={
                "name": "Big",
                "target": "field",
                "path": "employees",
                "operator": "gte",
                "value": "many",
                "points": 5,
            },
        )
    assert "value" in error.value.message_dict


def test_rule_operators_on_attributes_and_fields():
    ScoringRuleFactory(name="Budget", target="attribute", path="Budget", operator="gte", value=10000, points=10)
    ScoringRuleFactory(
        name="Tents", target="attribute", path="Interest", operator="in", value=["tents", "Packs"], points=10
    )
    ScoringRuleFactory(name="Has phone", path="phone", operator="exists", value=None, points=10)
    ScoringRuleFactory(name="Not retail", path="industry", operator="ne", value="Retail", points=10)
    ScoringRuleFactory(name="Gmail", path="email", operator="contains", value="@gmail.", points=-5)
    a = LeadFactory(
        attributes={"Budget": "12,500", "Interest": "Tents"},
        phone="+14155550123",
        industry="Retail",
        email="a@gmail.com",
    )
    b = LeadFactory(attributes={"Budget": 900}, industry="Education")
    leads_rescore()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.rules_points == 10 + 10 + 10 - 5
    assert b.rules_points == 10


# --- recompute on change (debounced) -------------------------------------------------------------


def test_a_burst_of_events_schedules_one_debounced_rescore(settings, on_commit, sales_rep):
    # given
    settings.HITL_CRM_LEADS_RESCORE_DEBOUNCE_SECONDS = 30
    _rules()
    leads = LeadFactory.create_batch(5)
    with mock.patch("leads.tasks.lead_rescore_dirty_task.apply_async") as enqueue:
        # when 20 events arrive, in separate transactions
        for i in range(20):
            with on_commit():
                lead_event_record(lead=leads[i % 5], kind="site_visit", data={"page": "/pricing"}, actor=sales_rep)
    # then one task was enqueued, 30 s out, and every lead waits for it
    assert enqueue.call_count == 1
    assert enqueue.call_args.kwargs == {"countdown": 30}
    assert Lead.objects.filter(score_dirty_at__isnull=False).count() == 5
    # when it runs
    from leads.tasks import lead_rescore_dirty_task

    assert lead_rescore_dirty_task.apply().get() == 5
    # then all five are scored once and nothing is left dirty; the next change schedules again
    assert set(Lead.objects.values_list("rules_points", flat=True)) == {25}
    assert not Lead.objects.filter(score_dirty_at__isnull=False).exists()
    from django.core.cache import cache

    assert cache.get(RESCORE_SCHEDULED_KEY) is None


def test_changes_that_cannot_move_a_score_do_not_rescore(on_commit, sales_rep):
    lead = LeadFactory()
    Lead.objects.update(score_dirty_at=None)
    with on_commit():
        lead_update(lead=lead, data={"first_name": "Renamed"}, actor=sales_rep)
    assert Lead.objects.get(pk=lead.pk).score_dirty_at is None
    with on_commit():
        lead_update(lead=lead, data={"employees": 900}, actor=sales_rep)
    assert Lead.objects.get(pk=lead.pk).score_dirty_at is not None  # nothing scores yet: it waits for rules


def test_won_or_lost_stamps_the_closing_time(sales_rep):
    lead = LeadFactory()
    lead = lead_update(lead=lead, data={"status": "won"}, actor=sales_rep)
    assert lead.closed_at is not None
    lead = lead_update(lead=lead, data={"status": "working"}, actor=sales_rep)
    assert lead.closed_at is None

"""Demo data, system checks, roles and the approval action's registration."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.registry import get_action
from leads.checks import check_settings
from leads.demo import seed
from leads.followups import SEND_FOLLOWUP
from leads.models import Lead, LeadEvent, ScoringModel, ScoringRule

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, ...]:
    return (
        Lead.objects.count(),
        LeadEvent.objects.count(),
        ScoringRule.objects.count(),
        ScoringModel.objects.count(),
        ApprovalRequest.objects.filter(action=SEND_FOLLOWUP).count(),
    )


def test_seed_demo_builds_scored_prospects_with_a_trained_model_once(django_capture_on_commit_callbacks):
    call_command("seed_demo", force=True, stdout=io.StringIO())  # users, roles, contacts and every app's demo data
    leads, events, rules, models, drafts = snapshot()
    assert 200 <= leads <= 500
    assert events > leads * 3
    assert rules >= 5
    assert Lead.objects.filter(status__in=["won", "lost"]).count() >= 100
    model = ScoringModel.objects.get(active=True)
    assert model.metrics["n_train"] >= 80
    assert not Lead.objects.filter(score__isnull=True).exists()
    assert set(Lead.objects.values_list("tier", flat=True)) == {"A", "B", "C", "D"}
    assert drafts == 2
    assert ApprovalPolicy.objects.get(action=SEND_FOLLOWUP).reviewer_groups.count() == 2
    won = Lead.objects.filter(status="won").values_list("score", flat=True)
    lost = Lead.objects.filter(status="lost").values_list("score", flat=True)
    assert sum(won) / len(won) > sum(lost) / len(lost) + 10  # the demo's scores mean something
    # running it again changes nothing
    seed(stdout=io.StringIO())
    assert snapshot() == (leads, events, rules, models, drafts)


def test_roles_get_the_leads_permissions(roles):
    rep = set(Group.objects.get(name="Sales rep").permissions.values_list("codename", flat=True))
    assert {"view_lead", "add_lead", "change_lead", "add_leadevent", "view_scoringmodel", "override_lead_score"} <= rep
    assert "change_scoringrule" not in rep
    manager = set(Group.objects.get(name="Manager").permissions.values_list("codename", flat=True))
    assert {"add_scoringrule", "change_scoringrule", "train_scoringmodel", "add_leadimport"} <= manager
    marketer = set(Group.objects.get(name="Marketer").permissions.values_list("codename", flat=True))
    assert "view_lead" in marketer
    assert "change_lead" not in marketer


def test_the_follow_up_action_is_registered_with_editable_subject_and_body():
    action = get_action(SEND_FOLLOWUP)
    assert action.editable_fields == ("subject", "body")
    assert action.payload_fields() == ["to", "subject", "body", "lead_id"]
    assert action.handler.__module__ == "leads.handlers"


def test_settings_are_checked(settings):
    assert check_settings(None) == []
    settings.HITL_CRM_LEADS_TIER_THRESHOLDS = {"A": 50, "B": 60, "C": 10}
    settings.HITL_CRM_LEADS_MODEL_WEIGHT = 1.5
    settings.HITL_CRM_LEADS_SCORE_BATCH_SIZE = 20_000
    assert {e.id for e in check_settings(None)} == {"leads.E001", "leads.E002", "leads.E008"}

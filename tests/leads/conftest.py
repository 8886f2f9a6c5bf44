"""Fixtures for leads tests."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals.models import ApprovalPolicy
from hitl_crm.accounts.roles import MANAGER, SALES_REP
from leads.followups import SEND_FOLLOWUP
from leads.models import Lead, LeadEvent
from tests.integration.conftest import real_services  # noqa: F401 (PostgreSQL + Redis, or a skip)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def followup_policy(roles) -> ApprovalPolicy:
    """Follow-ups are reviewed by sales reps and managers (one approval)."""
    policy = ApprovalPolicy.objects.create(name="Lead follow-up", action=SEND_FOLLOWUP, sla_minutes=480)
    policy.reviewer_groups.set(Group.objects.filter(name__in=[SALES_REP, MANAGER]))
    return policy


def make_history(n: int = 240, *, seed: int = 7, now=None) -> list[Lead]:
    """Closed leads whose outcome follows their source and site visits (a learnable signal)."""
    rng = np.random.default_rng(seed)
    now = now or timezone.now()
    sources = ["Referral", "Web form", "Cold outreach"]
    effect = {"Referral": 1.5, "Web form": 0.0, "Cold outreach": -1.5}
    leads, events, outcomes = [], [], []
    for i in range(n):
        source = sources[i % 3]
        visits = int(rng.poisson(3 if source == "Referral" else 1.5))
        p = 1 / (1 + np.exp(-(effect[source] + 0.5 * (visits - 2))))
        won = bool(rng.random() < p)
        closed_at = now - timedelta(days=int(rng.integers(1, 20)))
        lead = Lead(
            email=f"hist{seed}-{i}@history.example",
            first_name="Hist",
            last_name=str(i),
            source=source,
            employees=int(rng.integers(5, 500)),
            status=Lead.Status.WON if won else Lead.Status.LOST,
            closed_at=closed_at,
        )
        leads.append(lead)
        outcomes.append(visits)
    Lead.objects.bulk_create(leads)
    for lead, visits in zip(leads, outcomes, strict=True):
        for v in range(visits):
            events.append(
                LeadEvent(
                    lead=lead,
                    kind=LeadEvent.Kind.SITE_VISIT,
                    occurred_at=lead.closed_at - timedelta(days=1 + v),
                    source="test",
                )
            )
    LeadEvent.objects.bulk_create(events)
    return leads

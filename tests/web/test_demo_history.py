"""The demo has weeks of decisions behind it, so the review analytics show trends."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from approvals.models import AuditEvent, Decision
from hitl_crm.web.templatetags.charts import bar_chart, line_chart

pytestmark = pytest.mark.django_db


def test_seed_demo_writes_two_months_of_decisions_once():
    call_command("seed_demo", force=True)
    decisions = Decision.objects.filter(request__context__demo_history=True)
    first = decisions.count()
    call_command("seed_demo", force=True)
    assert decisions.count() == first
    days = {d.date() for d in decisions.values_list("created_at", flat=True)}
    assert len(days) >= 50
    verdicts = set(decisions.values_list("verdict", flat=True))
    assert {"approve", "approve_with_edits", "reject"} <= verdicts
    # every decision has its audit event, dated when it was made
    for decision in decisions.select_related("request")[:20]:
        event = AuditEvent.objects.get(request=decision.request, verb="decided")
        assert event.created_at == decision.created_at
        assert decision.created_at > decision.request.created_at


def _ticks(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" x="[\d.]+" y="[\d.]+" text-anchor="middle">([^<]*)</text>', svg)


def test_a_half_width_chart_shows_fewer_larger_date_labels():
    series = [(f"2026-10-{day:02d}", day) for day in range(1, 31)]
    wide, narrow = str(bar_chart(series)), str(bar_chart(series, narrow=True))
    assert len(_ticks(wide)) == 6
    assert len(_ticks(narrow)) == 4
    assert 'class="chart  chart-narrow"' in narrow or 'class="chart chart-narrow"' in narrow
    lines = str(line_chart({"Acceptance": [(label, 0.5) for label, _ in series]}, percent=True, narrow=True))
    assert len(_ticks(lines)) == 4
    assert "chart-narrow" in lines
    assert "style=" not in narrow + lines

"""Review analytics over 7, 30 or 90 days: the table counts only decisions in the chosen window."""

from __future__ import annotations

import re

import pytest

from tests.approvals.test_autopilot import _history

pytestmark = pytest.mark.django_db


def _decided_cell(html: str) -> int:
    """The "Decided" cell of the table's first row."""
    match = re.search(r'<td data-label="Decided">(\d+)</td>', html)
    assert match, "no row in the analytics table"
    return int(match.group(1))


def test_the_window_chooses_which_decisions_count(client, manager, email_policy):
    _history(approved=3, days_ago=2)
    _history(approved=4, days_ago=20, reviewer=manager)
    _history(approved=5, days_ago=60, reviewer=manager)
    client.force_login(manager)
    counts = {}
    for days in (7, 30, 90):
        html = client.get(f"/approvals/analytics/?days={days}").content.decode()
        assert f"last {days} days" in html
        assert f'href="?days={days}&amp;by=action" aria-current="page"' in html
        counts[days] = _decided_cell(html)
    assert counts == {7: 3, 30: 7, 90: 12}


def test_an_unknown_window_falls_back_to_30_days_and_the_grouping_keeps_the_window(client, manager, email_policy):
    client.force_login(manager)
    html = client.get("/approvals/analytics/?days=100000").content.decode()
    assert "last 30 days" in html
    html = client.get("/approvals/analytics/?days=90&by=reviewer").content.decode()
    assert "last 90 days" in html
    assert 'href="?by=policy&amp;days=90"' in html
    assert 'href="?days=7&amp;by=reviewer"' in html

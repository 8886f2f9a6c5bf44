"""The dashboard's case figures are counted at most once per ``HITL_CRM_COUNTER_SECONDS``: a figure may
be that many seconds stale (the page says so), a person's own change shows at once, and one person's
figure is never shown to another."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from service.models import Case
from tests.factories import ContactFactory

WINDOW = "Counts refresh every 30 s."


@pytest.fixture
def window(settings):
    settings.HITL_CRM_COUNTER_SECONDS = 30


CASE_FIGURES = ("Open cases", "Cases needing a person")


def _stats(client) -> dict[str, int]:
    """The dashboard's case figures."""
    return {s["label"]: s["value"] for s in client.get("/").context["app_stats"] if s["label"] in CASE_FIGURES}


def _my_cases(client) -> int:
    sections = {s["title"]: s for s in client.get("/").context["my_work"]}
    return sections["Your open cases"]["count"]


def test_the_desks_figures_stay_for_the_window_while_new_cases_arrive(client, window, support_agent, make_case):
    # given: one open case, seen on the dashboard
    make_case()
    client.force_login(support_agent)
    page = client.get("/")
    assert {s["label"]: s["value"] for s in page.context["app_stats"]}["Open cases"] == 1
    assert WINDOW in page.content.decode()

    # when: two more cases arrive, one of them needing a person
    make_case()
    make_case(needs_human=True)

    # then: within the window the figures stay as counted …
    assert _stats(client) == {"Open cases": 1, "Cases needing a person": 0}
    # … and once it has passed they are counted again
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        assert _stats(client) == {"Open cases": 3, "Cases needing a person": 1}


def test_with_no_window_every_visit_counts(client, settings, support_agent, make_case):
    settings.HITL_CRM_COUNTER_SECONDS = 0
    make_case()
    client.force_login(support_agent)
    assert _stats(client)["Open cases"] == 1

    make_case()
    page = client.get("/")

    assert {s["label"]: s["value"] for s in page.context["app_stats"]}["Open cases"] == 2
    assert "Counts refresh every" not in page.content.decode()


def test_taking_a_case_shows_in_your_open_cases_at_once(
    client, window, support_agent, make_case, django_capture_on_commit_callbacks
):
    # given: more open cases of the agent's own than the dashboard lists, so the figure is a count
    for _ in range(6):
        make_case(owner=support_agent)
    unowned = make_case()
    client.force_login(support_agent)
    assert _my_cases(client) == 6

    # when: they take the unowned case
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/service/cases/{unowned.pk}/assign-to-me/")

    # then: their figure says so on the next visit, not 30 seconds later
    assert _my_cases(client) == 7


def test_closing_a_case_shows_in_the_desks_figures_at_once(
    client, window, support_agent, make_case, django_capture_on_commit_callbacks
):
    # given
    cases = [make_case(owner=support_agent, needs_human=True) for _ in range(6)]
    client.force_login(support_agent)
    assert _stats(client) == {"Open cases": 6, "Cases needing a person": 6}
    assert _my_cases(client) == 6

    # when: the agent resolves one
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/service/cases/{cases[0].pk}/status/", {"status": Case.Status.RESOLVED})

    # then
    assert _stats(client) == {"Open cases": 5, "Cases needing a person": 5}
    assert _my_cases(client) == 5


def test_a_reps_figure_is_their_own_not_the_desks(client, window, support_agent, sales_rep, make_case):
    # given: three open cases, one of them a customer the rep owns; the agent's figure is counted first
    make_case(contact=ContactFactory(owner=sales_rep))
    make_case()
    make_case()
    client.force_login(support_agent)
    assert _stats(client)["Open cases"] == 3

    # when
    client.force_login(sales_rep)

    # then: the rep sees only their customer's case, not the desk's cached figure
    assert _stats(client)["Open cases"] == 1


def _case_counts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "service_case" in q["sql"]]


def test_within_the_window_the_dashboard_counts_no_cases(client, window, support_agent, make_case):
    # given: more open cases of the agent's than the dashboard lists, counted on a first visit
    for _ in range(6):
        make_case(owner=support_agent)
    client.force_login(support_agent)
    client.get("/")

    # when: the dashboard is visited again, before and after many more cases arrive
    with CaptureQueriesContext(connection) as before:
        client.get("/")
    for _ in range(10):
        make_case(owner=support_agent)
    with CaptureQueriesContext(connection) as after:
        client.get("/")

    # then: no visit counts the cases table, and more cases cost no more queries
    assert _case_counts(before) == []
    assert _case_counts(after) == []
    assert len(after) == len(before)

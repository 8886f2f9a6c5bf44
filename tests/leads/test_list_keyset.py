"""The hottest-prospects list pages by cursor (no OFFSET): every lead once, hottest first and unscored
last, a count that stops at 1,000+, and a deep page that costs what the first one does."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Lead
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ranked() -> list[Lead]:
    """60 open leads: scores with ties (the newest first among equals) and some not scored yet."""
    for i in range(60):
        score = None if i % 6 == 0 else (i * 7) % 40  # ties, a zero, and NULLs spread through the ids
        LeadFactory(first_name=f"Lead{i:02d}", score=score)
    return list(Lead.objects.order_by("pk"))


def _expected(leads: list[Lead]) -> list[int]:
    """Score descending, unscored after every scored lead (a 0 included), the newest first on a tie."""
    return [lead.pk for lead in sorted(leads, key=lambda lead: (lead.score is None, -(lead.score or 0), -lead.pk))]


def _ids(response) -> list[int]:
    return [lead.pk for lead in response.context["page"].object_list]


def _link(response, name: str) -> str:
    found = re.search(rf"[?&](?:amp;)?{name}=([A-Za-z0-9_-]+)", response.content.decode())
    return found.group(1) if found else ""


def test_next_walks_every_lead_once_hottest_first_unscored_last_and_previous_comes_back(client, sales_rep, ranked):
    client.force_login(sales_rep)
    url = reverse("leads:prospects")

    first = client.get(url)
    second = client.get(url, {"after": _link(first, "after")})
    third = client.get(url, {"after": _link(second, "after")})
    back = client.get(url, {"before": _link(third, "before")})
    back_to_start = client.get(url, {"before": _link(second, "before")})

    assert _ids(first) + _ids(second) + _ids(third) == _expected(ranked)
    assert [len(_ids(r)) for r in (first, second, third)] == [25, 25, 10]
    assert all(lead.score is None for lead in third.context["page"].object_list[-10:])
    assert _link(third, "after") == ""  # the last page has no Next
    assert _link(first, "before") == ""  # nor the first a Previous
    assert _ids(back) == _ids(second)
    assert _ids(back_to_start) == _ids(first)
    assert "60 leads" in first.content.decode()


def test_paging_keeps_the_filters_and_htmx_gets_the_results_alone(client, sales_rep):
    for i in range(30):
        LeadFactory(source="Referral", score=i)
    LeadFactory(source="Web form", score=99)
    client.force_login(sales_rep)
    url = reverse("leads:prospects")

    first = client.get(url, {"source": "Referral"})
    assert "source=Referral&amp;after=" in first.content.decode()
    second = client.get(url, {"source": "Referral", "after": _link(first, "after")}, **HX)

    assert len(_ids(first)) + len(_ids(second)) == 30
    assert all(lead.source == "Referral" for lead in second.context["page"].object_list)
    fragment = second.content.decode()
    assert fragment.lstrip().startswith('<div id="prospect-results">')
    assert "<html" not in fragment


def test_a_broken_or_foreign_cursor_shows_the_first_page(client, sales_rep, ranked):
    client.force_login(sales_rep)
    url = reverse("leads:prospects")
    first = _ids(client.get(url))

    # not base64 / JSON, a cursor of another list's shape, a string where a score goes, far too long
    for junk in ("nonsense", "WyJ4IixbMV1d", "WyIiLFsiaG90IiwxXV0", "a" * 2000):
        for direction in ("after", "before"):
            response = client.get(url, {direction: junk})
            assert response.status_code == 200
            assert _ids(response) == first


def test_the_count_stops_at_the_cap_and_says_so(client, sales_rep, monkeypatch):
    monkeypatch.setattr("hitl_crm.paging.COUNT_CAP", 3)
    for i in range(5):
        LeadFactory(score=i * 10)
    client.force_login(sales_rep)

    response = client.get(reverse("leads:prospects"))

    assert "3+ leads" in response.content.decode()
    assert len(_ids(response)) == 5  # the page itself is not capped


def test_a_deep_page_costs_the_same_queries_as_the_first(client, sales_rep, ranked):
    for i in range(200):
        LeadFactory(score=i % 90)
    client.force_login(sales_rep)
    url = reverse("leads:prospects")
    client.get(url)  # warm the content-type and permission caches

    def walk(params: dict[str, str]) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200
        return len(queries), _link(response, "after")

    first, cursor = walk({})
    for _ in range(6):  # to the 8th page
        _, cursor = walk({"after": cursor})
    deep, _ = walk({"after": cursor})

    assert cursor  # still pages to go
    assert deep == first
    # ... and no OFFSET anywhere: the deep page starts after the cursor
    with CaptureQueriesContext(connection) as queries:
        client.get(url, {"after": cursor})
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)


def test_a_deep_prospects_page_starts_its_index_scan_at_the_cursor_on_postgresql(ranked, admin_user):
    from hitl_crm.paging import cursor_decode, keyset_page
    from leads import selectors
    from tests.conftest import require_service

    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")
    qs, keys = selectors.lead_list(user=admin_user), selectors.lead_rank_keys()
    cursor = cursor_decode(keyset_page(qs, keys, per_page=25).next_cursor)
    assert cursor is not None
    with CaptureQueriesContext(connection) as ran:
        keyset_page(qs, keys, per_page=25, after=cursor[1])
    with connection.cursor() as db:
        # 60 rows would be read whole and sorted in memory; without those choices it must be the index.
        for choice in ("seqscan", "bitmapscan", "sort"):
            db.execute(f"SET enable_{choice} = off")
        try:
            db.execute("EXPLAIN " + ran.captured_queries[-1]["sql"])
            plan = "\n".join(row[0] for row in db.fetchall())
        finally:
            for choice in ("seqscan", "bitmapscan", "sort"):
                db.execute(f"RESET enable_{choice}")
    assert "leads_rank_listed" in plan, plan
    assert "Index Cond: (ROW(" in plan, plan  # the cursor bounds the scan, not a filter after it

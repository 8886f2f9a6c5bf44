"""The review queue pages through keyset cursors over stored, indexed keys: every item once, in order,
whatever is decided meanwhile; a request whose due time passes moves to the top within a minute."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import ApprovalRequest
from approvals.services import approval_decide, approval_escalate_overdue, refresh_overdue
from tests.conftest import require_service

pytestmark = pytest.mark.django_db

QUEUE = "/approvals/"
PER_PAGE = 25
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RISK_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
ROW = re.compile(r'<td data-label="Item"><a href="/approvals/(\d+)/')
NEXT = re.compile(r'<a class="btn" href="([^"]*)"[^>]*>Next →')  # the bench follows the same link
PREVIOUS = re.compile(r'<a class="btn" href="([^"]*)"[^>]*>← Previous')


@pytest.fixture
def agent_client(client, support_agent):
    client.force_login(support_agent)
    return client


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sixty(clock, make_email_request) -> list[ApprovalRequest]:
    """60 pending requests with every kind of tie: risks, due times (some overdue) and creation times.

    Due times run from 50 minutes ago to 70 minutes ahead in steps of 10 minutes, so several
    items share one; creation times come in pairs.
    """
    reqs = [make_email_request() for _ in range(60)]
    for i, req in enumerate(reqs):
        ApprovalRequest.objects.filter(pk=req.pk).update(
            risk=("low", "medium", "high", "critical")[i % 4],
            due_at=START + timedelta(minutes=10 * ((i * 7) % 13) - 50),
            created_at=START - timedelta(hours=i // 2),
        )
    return list(ApprovalRequest.objects.filter(pk__in=[r.pk for r in reqs]))


def _expected(reqs: list[ApprovalRequest], order: str, now: datetime) -> list[int]:
    """The queue order written out independently of the code under test."""
    keys = {
        "priority": lambda r: (0 if r.due_at < now else 1, RISK_RANK[r.risk], r.due_at, r.pk),
        "due": lambda r: (r.due_at, r.pk),
        "risk": lambda r: (RISK_RANK[r.risk], r.due_at, r.pk),
        "newest": lambda r: (-r.created_at.timestamp(), -r.pk),
    }
    return [r.pk for r in sorted(reqs, key=keys[order])]


def _rows(page_html: str) -> list[int]:
    return [int(pk) for pk in ROW.findall(page_html)]


def _link(pattern: re.Pattern, page_html: str) -> str | None:
    match = pattern.search(page_html)
    return QUEUE + html.unescape(match.group(1)) if match else None


def _decide(req_id: int, reviewer) -> None:
    req = ApprovalRequest.objects.get(pk=req_id)
    approval_decide(request_id=req.pk, reviewer=reviewer, verdict="approve", payload_hash=req.payload_hash)


@pytest.mark.parametrize("order", ["priority", "due", "risk", "newest"])
def test_next_then_previous_visit_every_item_once_in_order_while_items_are_decided(
    order, sixty, agent_client, make_user, clock
):
    # given: 60 items; a colleague decides items while the reviewer pages
    colleague = make_user("Support agent", username="colleague")
    expected = _expected(sixty, order, START)

    # when: the reviewer walks forwards with "Next"; after page 1 the colleague decides its first
    # item (already seen) and one that is still ahead (the clock stands still: nothing turns overdue)
    first = agent_client.get(QUEUE, {"order": order}).content.decode()
    pages = [_rows(first)]
    _decide(pages[0][0], colleague)
    ahead = expected[40]
    _decide(ahead, colleague)
    url = _link(NEXT, first)
    while url:
        body = agent_client.get(url).content.decode()
        pages.append(_rows(body))
        url = _link(NEXT, body)
    forwards = [pk for page in pages for pk in page]

    # then: every item once, in the order of the first page, nothing skipped; the decided-ahead one is gone
    assert forwards == [pk for pk in expected if pk != ahead]
    assert [len(page) for page in pages] == [25, 25, 9]

    # when: the reviewer walks back with "Previous" from the last page
    backwards_pages = [pages[-1]]
    url = _link(PREVIOUS, body)
    while url:
        body = agent_client.get(url).content.decode()
        backwards_pages.insert(0, _rows(body))
        url = _link(PREVIOUS, body)
    backwards = [pk for page in backwards_pages for pk in page]

    # then: the same items, in the same order, without the two decided ones and without repeats
    decided = {pages[0][0], ahead}
    assert backwards == [pk for pk in expected if pk not in decided]
    assert "page 1" in body
    assert not PREVIOUS.search(body)


def test_a_request_whose_due_time_passes_moves_to_the_top_within_a_minute(sixty, agent_client, clock):
    # given: the queue in priority order, and a low-risk request due in 70 minutes near its end
    first = _rows(agent_client.get(QUEUE).content.decode())
    late = max((r for r in sixty if r.risk == "low"), key=lambda r: (r.due_at, r.pk))
    assert late.pk not in first

    # when: 71 minutes pass (no beat runs here: the queue itself refreshes who is overdue, once a minute)
    clock.shift(timedelta(minutes=71))
    body = agent_client.get(QUEUE).content.decode()

    # then: everything is overdue, so risk leads and the low-risk item sorts among the overdue lows by
    # due time, exactly as a fresh sort at the new time says
    assert _rows(body) == _expected(sixty, "priority", START + timedelta(minutes=71))[:PER_PAGE]


def test_an_item_turning_overdue_rises_to_the_head_of_its_risk(clock, make_email_request, agent_client):
    # given: two critical requests, one due in 30 minutes and one in 3 hours, and a low one overdue
    soon, later, low = make_email_request(), make_email_request(), make_email_request()
    ApprovalRequest.objects.filter(pk=soon.pk).update(risk="critical", due_at=START + timedelta(minutes=30))
    ApprovalRequest.objects.filter(pk=later.pk).update(risk="critical", due_at=START + timedelta(hours=3))
    ApprovalRequest.objects.filter(pk=low.pk).update(due_at=START - timedelta(minutes=5))
    assert _rows(agent_client.get(QUEUE).content.decode()) == [low.pk, soon.pk, later.pk]

    # when: 31 minutes pass and the minute's refresh runs (beat's task)
    clock.shift(timedelta(minutes=31))
    assert refresh_overdue() == 1

    # then: the now overdue critical one leads, ahead of the overdue low one
    assert _rows(agent_client.get(QUEUE).content.decode()) == [soon.pk, low.pk, later.pk]
    assert refresh_overdue() == 0  # nothing left to change


def test_escalation_moves_the_due_time_and_the_item_out_of_the_overdue_part(clock, make_email_request, managers):
    # given: an overdue request
    req = make_email_request()
    ApprovalRequest.objects.filter(pk=req.pk).update(due_at=START - timedelta(minutes=1))
    assert ApprovalRequest.objects.get(pk=req.pk).overdue_rank == 0

    # when: beat escalates it (a fresh due time, one SLA ahead)
    assert approval_escalate_overdue() == 1

    # then: it is no longer in the queue's overdue part
    req.refresh_from_db()
    assert req.due_at > START
    assert req.overdue_rank == 1


def test_a_due_time_moved_into_the_future_leaves_the_overdue_part_on_refresh(clock, make_email_request):
    req = make_email_request()
    ApprovalRequest.objects.filter(pk=req.pk).update(due_at=START - timedelta(minutes=1))
    # a write that bypasses the queryset (raw SQL, another tool) moves the due time ahead
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE approvals_approvalrequest SET due_at = %s WHERE id = %s", [START + timedelta(hours=1), req.pk]
        )
    assert ApprovalRequest.objects.get(pk=req.pk).overdue_rank == 0

    assert refresh_overdue() == 1
    assert ApprovalRequest.objects.get(pk=req.pk).overdue_rank == 1


@pytest.mark.parametrize(("risk", "rank"), [("critical", 0), ("high", 1), ("medium", 2), ("low", 3)])
def test_the_stored_risk_rank_follows_the_risk_through_every_write(risk, rank, clock, make_email_request):
    # save()
    req = make_email_request()
    req.risk = risk
    req.save(update_fields=["risk"])
    assert ApprovalRequest.objects.get(pk=req.pk).risk_rank == rank
    # update()
    ApprovalRequest.objects.filter(pk=req.pk).update(risk="low")
    assert ApprovalRequest.objects.get(pk=req.pk).risk_rank == 3
    ApprovalRequest.objects.filter(pk=req.pk).update(risk=risk)
    assert ApprovalRequest.objects.get(pk=req.pk).risk_rank == rank
    # bulk_update()
    req.refresh_from_db()
    req.risk = "low"
    ApprovalRequest.objects.bulk_update([req], ["risk"])
    assert ApprovalRequest.objects.get(pk=req.pk).risk_rank == 3
    # bulk_create()
    copy = ApprovalRequest.objects.get(pk=req.pk)
    copy.pk, copy.risk, copy.status, copy.due_at = None, risk, "rejected", START - timedelta(minutes=1)
    (made,) = ApprovalRequest.objects.bulk_create([copy])
    stored = ApprovalRequest.objects.get(pk=made.pk)
    assert (stored.risk_rank, stored.overdue_rank) == (rank, 0)


def test_a_new_request_gets_its_ranks(clock, make_email_request):
    req = make_email_request(risk="high")
    stored = ApprovalRequest.objects.get(pk=req.pk)
    assert (stored.risk_rank, stored.overdue_rank) == (1, 1)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: "x" + cursor,  # not base64 JSON any more
        lambda cursor: cursor[: len(cursor) // 2],  # cut short
        lambda cursor: "",
        lambda cursor: "not-a-cursor",
        lambda cursor: "%00" * 3,
    ],
)
def test_a_tampered_cursor_shows_the_first_page(tamper, sixty, agent_client):
    first = agent_client.get(QUEUE).content.decode()
    cursor = re.search(r"after=([^\"&]+)", html.unescape(_link(NEXT, first))).group(1)

    response = agent_client.get(QUEUE + "?after=" + tamper(cursor))
    backwards = agent_client.get(QUEUE + "?before=" + tamper(cursor))

    assert response.status_code == backwards.status_code == 200
    assert _rows(response.content.decode()) == _rows(first) == _rows(backwards.content.decode())
    assert "page 1" in response.content.decode()


def test_a_cursor_of_another_order_shows_the_first_page_of_the_chosen_one(sixty, agent_client):
    # (a "due" cursor holds two values; the "risk" order has three keys, so it does not fit)
    due_first = agent_client.get(QUEUE, {"order": "due"}).content.decode()
    cursor = re.search(r"after=([^\"&]+)", html.unescape(_link(NEXT, due_first))).group(1)

    body = agent_client.get(QUEUE + "?order=risk&after=" + cursor).content.decode()

    assert _rows(body) == _expected(sixty, "risk", START)[:PER_PAGE]


def test_the_filters_stay_on_the_next_page_and_changing_the_order_starts_again(sixty, agent_client):
    first = agent_client.get(QUEUE, {"risk": "low"}).content.decode()
    lows = [r.pk for r in sixty if r.risk == "low"]
    assert sorted(_rows(first)) == sorted(lows)  # 15 items: one page, no "Next"
    assert _link(NEXT, first) is None

    page_two_url = _link(NEXT, agent_client.get(QUEUE, {"order": "due"}).content.decode())
    page_two = agent_client.get(page_two_url).content.decode()
    # the column headers link to page 1 of their order: no cursor in them
    headers = re.findall(r'<th><a href="([^"]*)"', page_two)
    assert headers
    assert all("after=" not in href and "before=" not in href for href in headers)


def test_page_three_costs_the_queries_of_page_one(sixty, agent_client):
    first_url = QUEUE + "?order=due"
    agent_client.get(first_url)  # warm caches
    with CaptureQueriesContext(connection) as page_one:
        first = agent_client.get(first_url).content.decode()
    third_url = _link(NEXT, agent_client.get(_link(NEXT, first)).content.decode())
    with CaptureQueriesContext(connection) as page_three:
        third = agent_client.get(third_url).content.decode()

    assert "page 3" in third
    assert len(_rows(third)) == 10
    assert len(page_three) == len(page_one), [q["sql"] for q in page_three]


def test_old_page_numbers_show_the_first_page(sixty, agent_client):
    body = agent_client.get(QUEUE, {"page": 40}).content.decode()
    assert _rows(body) == _expected(sixty, "priority", START)[:PER_PAGE]


# --- the API list: the same queue as lean rows -----------------------------------------------------


@pytest.mark.urls("tests.approvals.urls_for_tests")
def test_the_api_list_rows_are_what_the_list_serializer_says(clock, make_email_request, support_agent, make_user):
    from rest_framework.test import APIClient

    from approvals.api.serializers import ApprovalRequestListSerializer
    from approvals.selectors import approval_queue_for
    from hitl_crm.ai.models import AiRun
    from tests.factories import ContactFactory

    # given: requests with and without an AI run, a requester and a policy; one overdue, one with a
    # removed subject, one with flags
    run = AiRun.objects.create(skill="draft", backend="offline", model_name="tfidf", prompt_version="v3")
    requester = make_user("Sales rep", username="asker")
    plain = make_email_request()
    with_run = make_email_request(ai_run=run, requested_by=requester, confidence=0.42)
    overdue = make_email_request(risk="high")
    ApprovalRequest.objects.filter(pk=overdue.pk).update(due_at=START - timedelta(minutes=1), flags=[{"message": "x"}])
    gone = make_email_request(contact=ContactFactory())
    gone.subject.delete()
    client = APIClient()
    client.force_authenticate(support_agent)

    # when: the agent lists their queue
    body = client.get("/api/v1/approvals/").json()

    # then: each row is exactly what the list serializer makes of the model instance
    expected = ApprovalRequestListSerializer(approval_queue_for(user=support_agent).order_by("id"), many=True).data
    assert body["results"] == [dict(row) for row in expected]
    rows = {row["id"]: row for row in body["results"]}
    assert rows[overdue.pk]["is_overdue"] is True
    assert rows[plain.pk]["is_overdue"] is False
    assert rows[with_run.pk]["ai_run"]["prompt_version"] == "v3"
    assert rows[with_run.pk]["requested_by"] == "asker"
    assert rows[gone.pk]["subject"]["label"] is None
    assert rows[plain.pk]["subject"]["label"] == str(plain.subject)


# --- PostgreSQL: the priority page walks its index -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_priority_page_reads_the_priority_index_on_postgresql(make_email_request, support_agent):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")
    from approvals.selectors import approval_queue_bound, approval_queue_for, approval_queue_order

    for _ in range(3):
        make_email_request()
    qs = approval_queue_for(user=support_agent)
    first = qs.order_by(*approval_queue_order()).values("pk")[:26]
    deep = (
        qs.filter(approval_queue_bound(order="priority", values=[1, 3, START, 1]))
        .order_by(*approval_queue_order())
        .values("pk")[:26]
    )
    with connection.cursor() as cursor:
        # Three rows would be sorted in memory; without that choice the plan must be the index.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            plans = []
            for page in (first, deep):
                sql, params = page.query.sql_with_params()
                cursor.execute("EXPLAIN " + sql, params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
    assert all("approvals_pending_priority" in plan for plan in plans), plans
    assert "Index Cond" in plans[1], plans[1]  # the cursor starts the scan …
    assert "overdue_rank" in plans[1], plans[1]  # … as a row comparison on the index's keys

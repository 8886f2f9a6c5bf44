from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from approvals.selectors import (
    approval_daily_series,
    approval_history,
    approval_pending_count,
    approval_queue_for,
    approval_stats,
    approval_visible_to,
)
from approvals.services import _grant, approval_decide
from hitl_crm.ai.models import AiRun

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_queue_holds_pending_requests_routed_to_the_user_directly_or_via_a_group(
    make_email_request, make_user, sales_rep
):
    # given
    agent = make_user("Support agent", username="agent1")
    via_group = make_email_request()
    decided = make_email_request()
    approval_decide(
        request_id=decided.pk,
        payload_hash=decided.payload_hash,
        reviewer=agent,
        verdict="reject",
        reason="tone",
    )
    direct = make_email_request()
    _grant(direct, users=[sales_rep])
    # then
    assert list(approval_queue_for(user=agent)) == [via_group, direct]
    assert list(approval_queue_for(user=sales_rep)) == [direct]
    assert approval_pending_count(user=agent) == 2
    assert approval_pending_count(user=sales_rep) == 1
    # visible: any status, same permission
    assert set(approval_visible_to(user=agent)) == {via_group, decided, direct}
    assert set(approval_visible_to(user=sales_rep)) == {direct}


def test_anonymous_and_inactive_users_see_nothing(make_email_request, make_user):
    from django.contrib.auth.models import AnonymousUser

    inactive = make_user("Support agent", username="old", is_active=False)
    make_email_request()
    for user in (AnonymousUser(), inactive):
        assert list(approval_queue_for(user=user)) == []
        assert list(approval_visible_to(user=user)) == []
        assert approval_pending_count(user=user) == 0


def test_superusers_see_every_request(make_email_request, admin_user):
    req = make_email_request()
    assert list(approval_queue_for(user=admin_user)) == [req]


def test_queue_is_one_query_with_what_a_row_shows(make_email_request, make_user, django_assert_num_queries):
    agent = make_user("Support agent", username="agent1")
    run = AiRun.objects.create(skill="draft_reply", backend="offline", model_name="tfidf", prompt_version="v1")
    for _ in range(5):
        make_email_request(ai_run=run, requested_by=make_user("Sales rep"))
    # 1. the queue with policy, requester, AI run and content type joined, approvals counted
    # 2. the subjects (contacts), prefetched in one query
    with django_assert_num_queries(2):
        rows = [
            (
                r.policy.name,
                r.requested_by.username,
                r.ai_run.model_name,
                r.content_type.model,
                str(r.subject),
                r.approvals_count,
            )
            for r in approval_queue_for(user=agent)
        ]
    assert len(rows) == 5


def test_history_lists_decisions_and_the_audit_trail(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    req = make_email_request()
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="reject", reason="policy")
    history = approval_history(request=req)
    assert [d.verdict for d in history["decisions"]] == ["reject"]
    assert [e.verb for e in history["audit"]] == ["created", "decided"]


def test_stats_per_action_reviewer_and_model(make_email_request, make_refund, make_user, manager):
    # given
    a1 = make_user("Support agent", username="a1")
    a2 = make_user("Support agent", username="a2")
    run_v1 = AiRun.objects.create(skill="draft", backend="offline", model_name="tfidf", prompt_version="v1")
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=3), tick=False):
        r1 = make_email_request(ai_run=run_v1)
        r2 = make_email_request(ai_run=run_v1)
        r3 = make_email_request()
        r4 = make_email_request()
        refund = make_refund("100.00")
    make_email_request()  # still pending: backlog
    with time_machine.travel(now - timedelta(hours=2), tick=False):  # 60 minutes after, within the SLA
        approval_decide(request_id=r1.pk, payload_hash=r1.payload_hash, reviewer=a1, verdict="approve")
        approval_decide(
            request_id=r2.pk,
            payload_hash=r2.payload_hash,
            reviewer=a1,
            verdict="approve_with_edits",
            edits={"body": "Rewritten."},
        )
    with time_machine.travel(now, tick=False):  # 180 minutes after: SLA (60) breached
        approval_decide(request_id=r3.pk, payload_hash=r3.payload_hash, reviewer=a2, verdict="reject", reason="tone")
        approval_decide(request_id=r4.pk, payload_hash=r4.payload_hash, reviewer=a2, verdict="reject", reason="tone")
        approval_decide(request_id=refund.pk, payload_hash=refund.payload_hash, reviewer=manager, verdict="approve")
    # when
    by_action = {row["key"]: row for row in approval_stats(by="action")}
    by_reviewer = {row["key"]: row for row in approval_stats(by="reviewer")}
    by_model = {row["key"]: row for row in approval_stats(by="model")}
    by_policy = {row["key"]: row for row in approval_stats(by="policy")}
    # then
    email = by_action["approvals.notify_email"]
    assert email["decided"] == 4
    assert email["accepted"] == 1
    assert email["acceptance"] == 0.25
    assert email["rejected"] == 2
    assert email["reasons"] == {"tone": 2}
    assert 0 < email["edit_ratio_avg"] <= 0.5  # (0 + edit ratio of r2) / 2
    assert email["median_minutes_to_decision"] == 120.0
    assert email["sla_breaches"] == 2
    assert email["backlog"] == 1
    assert by_action["tests.refund"]["acceptance"] == 1.0
    assert by_reviewer["a1"]["decided"] == 2
    assert by_reviewer["a2"]["rejected"] == 2
    assert by_reviewer["a1"]["backlog"] is None
    assert by_model["tfidf / v1"]["decided"] == 2
    assert by_model["(no AI run)"]["decided"] == 3
    assert by_policy["Email"]["decided"] == 4
    with pytest.raises(ValueError, match="by must be one of"):
        approval_stats(by="colour")


def test_daily_series_counts_per_day_with_backlog(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    today_10am = timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    with time_machine.travel(today_10am - timedelta(days=2), tick=False):
        first = make_email_request()
        make_email_request()
    with time_machine.travel(today_10am - timedelta(days=1), tick=False):
        approval_decide(request_id=first.pk, payload_hash=first.payload_hash, reviewer=agent, verdict="approve")
    series = approval_daily_series(days=3)
    assert [d["date"] for d in series] == [(timezone.localdate() - timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    assert [d["backlog_end_of_day"] for d in series] == [2, 1, 1]
    assert [d["decided"] for d in series] == [0, 1, 0]
    assert series[1]["acceptance"] == 1.0
    assert [d["sla_breaches"] for d in series] == [2, 0, 0]  # both were still pending at their due time
    assert approval_daily_series(days=3, action="other.action")[0]["backlog_end_of_day"] == 0


def test_visible_requests_carry_the_audit_count_for_the_detail_page(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    req = make_email_request()
    assert approval_visible_to(user=agent).get(pk=req.pk).approvals_count == 0
    assert AuditEvent.objects.filter(request=req).count() == 1
    assert ApprovalRequest.objects.get(pk=req.pk).is_overdue is False


def test_pending_count_stops_at_the_cap_unless_asked_for_the_exact_number(make_email_request, make_user):
    agent = make_user("Support agent", username="agent1")
    for _ in range(5):
        make_email_request()
    assert approval_pending_count(user=agent, cap=3) == 3
    assert approval_pending_count(user=agent) == 5
    assert approval_pending_count(user=agent, cap=None) == 5

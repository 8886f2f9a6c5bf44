"""The undo window: an approval by a person is carried out only after a delay, during which the
approver (or a manager) can take it back; nothing is sent in the window, and an undo that comes
too late is refused rather than half-done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.exceptions import InvalidState, NotAllowed
from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import _execute_later as real_execute_later
from approvals.services import approval_decide, approval_execute, approval_reap_stuck, approval_undo
from tests.approvals.test_autopilot import _history, _propose, autopilot_policy  # noqa: F401

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status


@pytest.fixture(autouse=True)
def window(settings, monkeypatch):
    """A 10-second window; the demo's timer thread is recorded instead of started."""
    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 10
    timers: list[tuple[int, float]] = []
    monkeypatch.setattr("approvals.services._execute_later", lambda pk, delay: timers.append((pk, delay)))
    return timers


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


@pytest.fixture
def other_agent(make_user):
    return make_user("Support agent", username="agent2")


def _ok_calls(refund_action) -> list[dict]:
    return [c for c in refund_action.CALLS if c["outcome"] == "ok"]


def _approve(req, reviewer, on_commit):
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")
    req.refresh_from_db()
    return req


def _window_passes(req) -> None:
    ApprovalRequest.objects.filter(pk=req.pk).update(execute_after=timezone.now() - timedelta(seconds=1))


def test_an_approval_is_not_carried_out_during_the_window(make_refund, agent, refund_action, on_commit, window):
    req = _approve(make_refund("120.00"), agent, on_commit)
    assert req.status == Status.APPROVED
    assert 9 <= (req.execute_after - timezone.now()).total_seconds() <= 10
    # the execution the approval enqueued ran (tasks are eager) and did nothing: too early
    assert _ok_calls(refund_action) == []
    assert window == [(req.pk, pytest.approx(10, abs=1))]
    # a worker that gets it early does nothing either
    approval_execute(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert _ok_calls(refund_action) == []


def test_undo_in_the_window_puts_it_back_to_pending_and_nothing_is_ever_sent(
    make_refund, agent, refund_action, on_commit
):
    req = _approve(make_refund("120.00"), agent, on_commit)
    with on_commit():
        approval_undo(request_id=req.pk, actor=agent)
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert req.execute_after is None
    decision = req.decisions.get()
    assert decision.undone_by == agent
    assert decision.undone_at is not None
    event = AuditEvent.objects.get(request=req, verb="approval.undone")
    assert event.actor == agent
    assert event.data["by_approver"] is True
    # the window's end comes and goes: the worker finds nothing to do
    _window_passes(req)
    approval_execute(request_id=req.pk)
    approval_reap_stuck(older_than=timedelta(minutes=2))
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert _ok_calls(refund_action) == []


def test_after_an_undo_the_same_reviewer_decides_again_and_it_is_sent_once(
    make_refund, agent, refund_action, on_commit, settings
):
    req = _approve(make_refund("120.00"), agent, on_commit)
    approval_undo(request_id=req.pk, actor=agent)
    req.refresh_from_db()
    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 0
    req = _approve(req, agent, on_commit)
    assert req.status == Status.EXECUTED
    assert len(_ok_calls(refund_action)) == 1
    assert req.decisions.count() == 2
    assert req.decisions.filter(undone_at__isnull=False).count() == 1


def test_an_undo_after_the_window_is_refused_and_it_is_sent_once(make_refund, agent, refund_action, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    _window_passes(req)
    with pytest.raises(InvalidState, match="Too late to undo"):
        approval_undo(request_id=req.pk, actor=agent)
    approval_execute(request_id=req.pk)
    with pytest.raises(InvalidState, match="Too late to undo"):
        approval_undo(request_id=req.pk, actor=agent)
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert len(_ok_calls(refund_action)) == 1
    assert not AuditEvent.objects.filter(request=req, verb="approval.undone").exists()


def test_a_claimed_execution_can_no_longer_be_undone(make_refund, agent, refund_action, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    ApprovalRequest.objects.filter(pk=req.pk).update(status=Status.EXECUTING)
    with pytest.raises(InvalidState, match="already being carried out"):
        approval_undo(request_id=req.pk, actor=agent)


def test_another_reviewer_may_not_undo_but_a_manager_may(make_refund, agent, other_agent, manager, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    with pytest.raises(NotAllowed, match="Only the person who approved this"):
        approval_undo(request_id=req.pk, actor=other_agent)
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    approval_undo(request_id=req.pk, actor=manager)
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert AuditEvent.objects.get(request=req, verb="approval.undone").data["by_approver"] is False


def test_undoing_one_of_two_approvals_needs_that_approval_again(
    make_refund, manager, make_user, refund_action, on_commit
):
    second_manager = make_user("Manager", username="manager2")
    req = make_refund("25000.00")  # the > 20k policy: two managers
    assert req.required_approvals == 2
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    req = _approve(req, second_manager, on_commit)
    assert req.status == Status.APPROVED
    approval_undo(request_id=req.pk, actor=second_manager)
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert req.decisions.standing().filter(verdict="approve").count() == 1
    _window_passes(req)
    approval_execute(request_id=req.pk)
    assert _ok_calls(refund_action) == []
    # the first manager's approval still counts: one more approval sends it
    req = _approve(req, second_manager, on_commit)
    assert req.status == Status.APPROVED


def test_a_lost_execution_task_is_picked_up_by_the_reaper_after_the_window(
    make_refund, agent, refund_action, on_commit
):
    req = _approve(make_refund("120.00"), agent, on_commit)
    old = timezone.now() - timedelta(hours=1)
    ApprovalRequest.objects.filter(pk=req.pk).update(execute_after=old, decided_at=old)
    with on_commit():
        assert approval_reap_stuck(older_than=timedelta(minutes=2)) == 1
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert len(_ok_calls(refund_action)) == 1


def test_the_reaper_leaves_a_request_in_its_window_alone(make_refund, agent, refund_action, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    ApprovalRequest.objects.filter(pk=req.pk).update(decided_at=timezone.now() - timedelta(hours=1))
    with on_commit():
        approval_reap_stuck(older_than=timedelta(minutes=2))
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert _ok_calls(refund_action) == []


def test_the_demo_timer_carries_it_out_when_the_window_ends(make_refund, agent, refund_action, on_commit, window):
    req = _approve(make_refund("120.00"), agent, on_commit)
    ((request_id, delay),) = window
    assert request_id == req.pk
    assert 9 <= delay <= 10
    from approvals.tasks import approval_execute_task

    _window_passes(req)  # what the timer waits for
    approval_execute_task.delay(request_id)  # what the timer runs
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert len(_ok_calls(refund_action)) == 1


def test_the_timer_thread_runs_the_execution_task(monkeypatch):
    ran = []
    monkeypatch.setattr("approvals.tasks.approval_execute_task.delay", ran.append)
    timer = real_execute_later(41, 0)
    timer.join(timeout=5)
    assert ran == [41]


def test_autopilot_approvals_have_no_window(autopilot_policy, make_email_request, on_commit):  # noqa: F811
    _history(approved=60)
    with on_commit():
        req = _propose(make_email_request)
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert req.execute_after is None


# --- the web page and the API ----------------------------------------------------------------


def _form(req) -> dict[str, str]:
    fields = {f"edit_{name}": str(req.final.get(name, "")) for name in req.action_spec.editable_fields}
    return {"verdict": "approve", "payload_hash": req.payload_hash, "confirmed": "on", **fields}


def test_the_page_counts_down_and_its_undo_button_takes_the_approval_back(client, make_refund, agent, refund_action):
    req = make_refund("120.00")
    client.force_login(agent)
    client.post(f"/approvals/{req.pk}/decide/", _form(req))
    page = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Sent in <span data-undo-count>10</span> s" in page or "Sent in <span data-undo-count>9</span> s" in page
    assert f'action="/approvals/{req.pk}/undo/"' in page
    # the queue shows the same Undo bar while the window is open
    queue = client.get("/approvals/").content.decode()
    assert f'action="/approvals/{req.pk}/undo/"' in queue

    response = client.post(f"/approvals/{req.pk}/undo/", follow=True)
    assert f"Undone: #{req.pk} was not sent" in response.content.decode()
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert _ok_calls(refund_action) == []
    assert f'action="/approvals/{req.pk}/undo/"' not in client.get("/approvals/").content.decode()


def test_the_undo_from_the_queue_returns_to_the_queue_with_its_filters(client, make_refund, agent):
    req = make_refund("120.00")
    client.force_login(agent)
    client.post(f"/approvals/{req.pk}/decide/", _form(req))
    response = client.post(f"/approvals/{req.pk}/undo/", {"to": "queue", "back": "risk=low&order=due"})
    assert response.status_code == 302
    assert response["Location"] == "/approvals/?risk=low&order=due"


def test_a_late_undo_on_the_page_says_it_is_too_late(client, make_refund, agent, refund_action):
    req = make_refund("120.00")
    client.force_login(agent)
    client.post(f"/approvals/{req.pk}/decide/", _form(req))
    _window_passes(req)
    approval_execute(request_id=req.pk)
    response = client.post(f"/approvals/{req.pk}/undo/", follow=True)
    assert "Too late to undo" in response.content.decode()
    assert len(_ok_calls(refund_action)) == 1


def test_no_undo_button_for_someone_who_did_not_approve(client, make_refund, agent, other_agent, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    client.force_login(other_agent)
    page = client.get(f"/approvals/{req.pk}/").content.decode()
    assert f'action="/approvals/{req.pk}/undo/"' not in page
    response = client.post(f"/approvals/{req.pk}/undo/", follow=True)
    assert "Only the person who approved this" in response.content.decode()
    req.refresh_from_db()
    assert req.status == Status.APPROVED


def test_the_api_undoes_in_the_window_and_says_409_after_it(make_refund, agent, other_agent, on_commit):
    req = _approve(make_refund("120.00"), agent, on_commit)
    api = APIClient()
    api.force_authenticate(other_agent)
    assert api.post(f"/api/v1/approvals/{req.pk}/undo/").status_code == 403
    api.force_authenticate(agent)
    response = api.post(f"/api/v1/approvals/{req.pk}/undo/")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    req = _approve(req, agent, on_commit)
    _window_passes(req)
    response = api.post(f"/api/v1/approvals/{req.pk}/undo/")
    assert response.status_code == 409
    assert "Too late" in str(response.json())

"""Bulk decisions on the queue: low-risk items of one action that move no money, each recorded
as its own decision with the same checks as deciding it alone."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.messages import get_messages

from approvals.exceptions import InvalidDecision, InvalidInput
from approvals.handlers import NOTIFY_EMAIL_ACTION
from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent, Decision
from approvals.registry import register, unregister
from approvals.services import approval_decide_bulk, approval_request_create

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status


@pytest.fixture
def agent(make_user):
    return make_user("Support agent", username="agent1")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def other_action(agents):
    """A second low-risk action without money, routed to the same agents."""
    spec = dataclasses.replace(NOTIFY_EMAIL_ACTION, key="tests.notify_copy", label="Notify (copy)")
    register(spec)
    policy = ApprovalPolicy.objects.create(name="Copy", action=spec.key)
    policy.reviewer_groups.set([agents])
    yield spec
    unregister(spec.key)


def _pairs(*reqs) -> list[tuple[int, str]]:
    return [(r.pk, r.payload_hash) for r in reqs]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_approving_three_items_records_three_decisions_and_sends_each(make_email_request, agent, on_commit, mailoutbox):
    reqs = [make_email_request() for _ in range(3)]
    with on_commit():
        outcome = approval_decide_bulk(reviewer=agent, verdict="approve", items=_pairs(*reqs))
    assert sorted(outcome.decided) == sorted(r.pk for r in reqs)
    assert outcome.summary() == "3 approved"
    for req in reqs:
        req.refresh_from_db()
        assert req.status == Status.EXECUTED
        decision = req.decisions.get()
        assert decision.reviewer == agent
        assert decision.payload_hash == req.payload_hash
        assert AuditEvent.objects.filter(request=req, verb="decided").count() == 1
    assert sorted(m.to[0] for m in mailoutbox if m.subject == "Your order has shipped") == sorted(
        r.final["to"] for r in reqs
    )


def test_rejecting_in_bulk_needs_a_reason_and_records_it_on_each(make_email_request, agent):
    reqs = [make_email_request() for _ in range(2)]
    with pytest.raises(InvalidDecision, match="Say why"):
        approval_decide_bulk(reviewer=agent, verdict="reject", items=_pairs(*reqs))
    assert not Decision.objects.exists()
    outcome = approval_decide_bulk(reviewer=agent, verdict="reject", items=_pairs(*reqs), reason="tone")
    assert outcome.summary() == "2 rejected"
    assert set(Decision.objects.values_list("reason", flat=True)) == {"tone"}
    assert set(ApprovalRequest.objects.values_list("status", flat=True)) == {Status.REJECTED}


@pytest.mark.parametrize(
    ("kind", "why"),
    [("high", "high risk: open it"), ("critical", "critical risk: open it"), ("money", "moves money")],
)
def test_a_risky_or_money_item_refuses_the_whole_batch(make_email_request, make_refund, agent, kind, why):
    plain = make_email_request()
    odd = make_refund("20.00") if kind == "money" else make_email_request(risk=kind)
    items = _pairs(plain, odd)
    if kind == "money":  # one action per batch comes first: check the money rule on refunds alone
        items = _pairs(odd, make_refund("30.00"))
    with pytest.raises(InvalidInput) as excinfo:
        approval_decide_bulk(reviewer=agent, verdict="approve", items=items)
    assert why in excinfo.value.errors["items"]
    assert not Decision.objects.exists()


def test_items_of_two_actions_refuse_the_whole_batch(make_email_request, other_action, agent, contact):
    copy = approval_request_create(
        action=other_action.key, subject=contact, proposal={"to": contact.email, "subject": "s", "body": "b"}
    )
    with pytest.raises(InvalidInput) as excinfo:
        approval_decide_bulk(reviewer=agent, verdict="approve", items=_pairs(make_email_request(), copy))
    assert "one action only" in excinfo.value.errors["items"]
    assert not Decision.objects.exists()


def test_an_item_that_changed_since_the_page_loaded_is_skipped_and_the_rest_decided(make_email_request, agent):
    fresh, stale = make_email_request(), make_email_request()
    outcome = approval_decide_bulk(
        reviewer=agent, verdict="approve", items=[(fresh.pk, fresh.payload_hash), (stale.pk, "0" * 64)]
    )
    assert outcome.decided == [fresh.pk]
    assert outcome.skipped == [(stale.pk, "It changed since the page was loaded; open it and decide again.")]
    stale.refresh_from_db()
    assert stale.status == Status.PENDING


def test_segregation_of_duties_holds_in_bulk(make_email_request, agent):
    own = make_email_request(requested_by=agent)
    other = make_email_request()
    outcome = approval_decide_bulk(reviewer=agent, verdict="approve", items=_pairs(own, other))
    assert outcome.decided == [other.pk]
    assert [pk for pk, _why in outcome.skipped] == [own.pk]
    own.refresh_from_db()
    assert own.status == Status.PENDING


def test_an_item_the_reviewer_may_not_see_is_skipped_and_not_revealed(make_email_request, sales_rep, agent):
    req = make_email_request()
    outcome = approval_decide_bulk(reviewer=sales_rep, verdict="approve", items=_pairs(req))
    assert outcome.decided == []
    assert outcome.skipped == [(req.pk, "You are not a reviewer of this request.")]
    req.refresh_from_db()
    assert req.status == Status.PENDING


# --- the queue page ----------------------------------------------------------------------------


def test_the_queue_shows_checkboxes_only_on_items_that_can_be_decided_in_bulk(
    agent_client, make_email_request, make_refund
):
    plain = make_email_request()
    risky = make_email_request(risk="high")
    refund = make_refund("20.00")
    html = agent_client.get("/approvals/").content.decode()
    assert f'value="{plain.pk}:{plain.payload_hash}"' in html
    assert f'id="bulk-{risky.pk}"' not in html
    assert f'id="bulk-{refund.pk}"' not in html
    assert "Approve selected" in html


def test_approve_selected_on_the_queue_decides_the_ticked_rows_and_says_so(agent_client, make_email_request):
    first, second, untouched = make_email_request(), make_email_request(), make_email_request()
    response = agent_client.post(
        "/approvals/bulk/",
        {
            "verdict": "approve",
            "items": [f"{first.pk}:{first.payload_hash}", f"{second.pk}:{second.payload_hash}"],
            "back": "order=due",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/approvals/?order=due"
    assert _messages(response) == ["2 approved"]
    untouched.refresh_from_db()
    assert untouched.status == Status.PENDING
    assert Decision.objects.filter(request__in=[first, second], reviewer__username="agent1").count() == 2


def test_the_queue_explains_an_empty_selection_and_a_missing_reject_reason(agent_client, make_email_request):
    req = make_email_request()
    response = agent_client.post("/approvals/bulk/", {"verdict": "approve"})
    assert "Tick the items to decide first." in " ".join(_messages(response))
    response = agent_client.post("/approvals/bulk/", {"verdict": "reject", "items": [f"{req.pk}:{req.payload_hash}"]})
    assert "Pick a reason to reject the selected items." in " ".join(_messages(response))
    assert not Decision.objects.exists()


def test_a_tampered_selection_is_refused_without_a_500(agent_client):
    response = agent_client.post("/approvals/bulk/", {"verdict": "approve", "items": ["drop table", "1:"]})
    assert response.status_code == 302
    assert "The selection was not understood; reload the queue." in " ".join(_messages(response))

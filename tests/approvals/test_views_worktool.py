"""The review queue as a work tool: order, filters, markers, row labels, confirmation, authority."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.exceptions import NotAllowed
from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import approval_escalate_now
from tests.factories import ContactFactory
from tests.service.conftest import make_case  # noqa: F401  (the service tests' case fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, support_agent):
    client.force_login(support_agent)
    return client


def _form(req: ApprovalRequest, verdict: str = "approve", **extra: str) -> dict[str, str]:
    """What the decision form posts when the reviewer changes nothing."""
    fields = {f"edit_{name}": str(req.final.get(name, "")) for name in req.action_spec.editable_fields}
    return {"verdict": verdict, "payload_hash": req.payload_hash, **fields, **extra}


def _positions(html: str, reqs: list[ApprovalRequest]) -> list[int]:
    return [html.index(f'href="/approvals/{r.pk}/') for r in reqs]


def _overdue(req: ApprovalRequest, minutes: int = 30) -> ApprovalRequest:
    ApprovalRequest.objects.filter(pk=req.pk).update(due_at=timezone.now() - timedelta(minutes=minutes))
    req.refresh_from_db()
    return req


def test_the_queue_puts_overdue_first_then_the_riskiest_then_the_earliest_due(agent_client, make_email_request):
    low = make_email_request(risk="low")
    critical = make_email_request(risk="critical")
    medium_overdue = _overdue(make_email_request(risk="medium"))
    critical_overdue = _overdue(make_email_request(risk="critical"), minutes=5)
    html = agent_client.get("/approvals/").content.decode()
    a, b, c, d = _positions(html, [critical_overdue, medium_overdue, critical, low])
    assert a < b < c < d


def test_column_headers_set_the_order_and_due_order_follows_the_due_time(agent_client, make_email_request):
    early_low = make_email_request(risk="low")
    late_critical = make_email_request(risk="critical")
    ApprovalRequest.objects.filter(pk=early_low.pk).update(due_at=timezone.now() + timedelta(minutes=5))
    html = agent_client.get("/approvals/").content.decode()
    assert 'href="?order=due"' in html
    assert 'href="?order=risk"' in html
    first, second = _positions(html, [late_critical, early_low])
    assert first < second
    html = agent_client.get("/approvals/", {"order": "due"}).content.decode()
    first, second = _positions(html, [early_low, late_critical])
    assert first < second


def test_state_filters_show_only_overdue_or_escalated_items_with_their_markers(agent_client, make_email_request):
    fresh = make_email_request()
    late = _overdue(make_email_request())
    escalated = make_email_request()
    ApprovalRequest.objects.filter(pk=escalated.pk).update(escalation_level=2)
    escalated.refresh_from_db()

    overdue_html = agent_client.get("/approvals/", {"state": "overdue"}).content.decode()
    assert f"/approvals/{late.pk}/" in overdue_html
    assert f"/approvals/{fresh.pk}/" not in overdue_html
    assert "Overdue</span>" in overdue_html

    escalated_html = agent_client.get("/approvals/", {"state": "escalated"}).content.decode()
    assert f"/approvals/{escalated.pk}/" in escalated_html
    assert f"/approvals/{fresh.pk}/" not in escalated_html
    original = timezone.localtime(escalated.sla_due_at).strftime("%H:%M")
    assert f"due {original}, escalated twice" in escalated_html


def test_a_row_leads_with_what_it_is_about_and_keeps_the_action_as_secondary_text(agent_client, make_email_request):
    contact = ContactFactory(first_name="Stove", last_name="Sparked")
    req = make_email_request(contact=contact)
    html = agent_client.get("/approvals/").content.decode()
    link = f'<a href="/approvals/{req.pk}/">{contact}</a>'
    assert link in html
    assert f"{req.action_spec.label} · #{req.pk}" in html


def test_a_high_risk_item_is_not_approved_without_the_confirmation(agent_client, make_email_request):
    req = make_email_request(risk="high")
    page = agent_client.get(f"/approvals/{req.pk}/").content.decode()
    assert 'name="confirmed"' in page
    response = agent_client.post(f"/approvals/{req.pk}/decide/", _form(req))
    assert response.status_code == 400
    assert "I checked the amount/recipient" in response.content.decode()
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    assert not req.decisions.exists()

    agent_client.post(f"/approvals/{req.pk}/decide/", _form(req, confirmed="on"))
    req.refresh_from_db()
    assert req.decisions.get().verdict == "approve"


def test_a_low_risk_item_without_an_amount_needs_no_confirmation(agent_client, make_email_request):
    req = make_email_request(risk="low")
    assert 'name="confirmed"' not in agent_client.get(f"/approvals/{req.pk}/").content.decode()
    agent_client.post(f"/approvals/{req.pk}/decide/", _form(req))
    assert req.decisions.get().verdict == "approve"


def test_approve_and_next_goes_to_the_next_item_in_queue_order(agent_client, make_email_request):
    first = _overdue(make_email_request(risk="low"))
    second = make_email_request(risk="critical")
    third = make_email_request(risk="low")
    response = agent_client.post(f"/approvals/{first.pk}/decide/", _form(first, "approve_next"))
    assert response.status_code == 302
    assert response["Location"] == f"/approvals/{second.pk}/"
    assert first.decisions.get().verdict == "approve"
    # the last one leads back to the (then empty) queue
    agent_client.post(
        f"/approvals/{second.pk}/decide/",
        _form(second, "approve_next", confirmed="on"),
    )
    response = agent_client.post(f"/approvals/{third.pk}/decide/", _form(third, "approve_next"))
    assert response["Location"] == "/approvals/"


def test_approve_and_next_over_htmx_redirects_the_page(agent_client, make_email_request):
    first = make_email_request()
    second = make_email_request()
    response = agent_client.post(
        f"/approvals/{first.pk}/decide/",
        _form(first, "approve_next"),
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == f"/approvals/{second.pk}/"


def test_a_reviewer_below_the_amount_sees_why_and_can_send_it_to_a_manager(
    client, make_user, make_refund, managers, manager
):
    agent = make_user("Support agent", username="agent1")
    req = make_refund("1200.00")
    client.force_login(agent)
    page = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Your limit is 500.00 USD; this refund is 1,200.00 USD." in page
    assert "Send to a manager" in page
    assert 'value="approve"' not in page

    response = client.post(f"/approvals/{req.pk}/escalate/")
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    assert req.escalation_level == 1
    event = AuditEvent.objects.filter(request=req, verb="escalated").get()
    assert event.actor == agent
    client.force_login(manager)
    assert f"/approvals/{req.pk}/" in client.get("/approvals/").content.decode()


def test_a_reviewer_within_the_limit_sees_the_approve_buttons(client, make_user, make_refund):
    agent = make_user("Support agent", username="agent1")
    req = make_refund("120.00")
    client.force_login(agent)
    page = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Your limit is" not in page
    assert 'value="approve"' in page
    assert 'name="confirmed"' in page


def test_escalate_now_refuses_someone_who_is_not_a_reviewer(sales_rep, make_email_request):
    req = make_email_request()
    with pytest.raises(NotAllowed):
        approval_escalate_now(request_id=req.pk, actor=sales_rep)
    req.refresh_from_db()
    assert req.escalation_level == 0
    assert not AuditEvent.objects.filter(request=req, verb="escalated").exists()


def test_the_escalate_view_is_a_404_for_someone_who_may_not_see_the_request(client, sales_rep, make_email_request):
    req = make_email_request()
    client.force_login(sales_rep)
    assert client.post(f"/approvals/{req.pk}/escalate/").status_code == 404
    req.refresh_from_db()
    assert req.escalation_level == 0


def test_the_case_inbox_puts_the_overdue_critical_case_first(client, support_agent, make_case):  # noqa: F811
    now = timezone.now()
    stove = make_case(subject="Stove sparked", risk="critical", waiting_since=now - timedelta(hours=30))
    make_case(subject="Overdue but low", risk="low", waiting_since=now - timedelta(hours=40))
    make_case(subject="Fresh critical", risk="critical", waiting_since=now - timedelta(minutes=5))
    newest = make_case(subject="Which size?", risk="low")
    # the newest message is on the low-risk question: it used to lead the inbox
    type(stove).objects.filter(pk=newest.pk).update(last_message_at=now + timedelta(minutes=1))
    type(stove).objects.filter(pk=stove.pk).update(last_message_at=now - timedelta(days=1))
    client.force_login(support_agent)
    page = client.get("/service/").content.decode()
    order = [page.index(s) for s in ("Stove sparked", "Overdue but low", "Fresh critical", "Which size?")]
    assert order == sorted(order)

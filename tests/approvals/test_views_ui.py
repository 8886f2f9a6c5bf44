"""The review UI: what reviewers see and do in the browser (HTMX requests included)."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import ApprovalRequest
from approvals.notifications import review_link_token
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, support_agent):
    client.force_login(support_agent)
    return client


def customer_mail(contact):
    return [m for m in mail.outbox if contact.email in m.to]


def test_the_queue_lists_what_the_reviewer_may_decide(agent_client, make_email_request):
    req = make_email_request()
    html = agent_client.get("/approvals/").content.decode()
    assert f"/approvals/{req.pk}/" in html
    assert "1 waiting for you" in html


def test_a_user_without_the_object_permission_sees_nothing_and_gets_404(client, sales_rep, make_email_request):
    req = make_email_request()
    client.force_login(sales_rep)
    html = client.get("/approvals/").content.decode()
    assert "Nothing is waiting for you" in html
    assert f"/approvals/{req.pk}/" not in html
    assert client.get(f"/approvals/{req.pk}/").status_code == 404
    response = client.post(f"/approvals/{req.pk}/decide/", {"verdict": "approve", "payload_hash": req.payload_hash})
    assert response.status_code == 404
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING


def test_approving_with_edits_sends_the_edited_mail_once(
    agent_client, make_email_request, django_capture_on_commit_callbacks
):
    # given
    contact = ContactFactory(email="olivia@customer.example")
    req = make_email_request(contact=contact)
    # when: the reviewer edits the body inline and approves, through HTMX
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            f"/approvals/{req.pk}/decide/",
            {
                "verdict": "approve",
                "edit_subject": "Your order has shipped",
                "edit_body": "Hi Olivia,\nit left the warehouse today. Tracking follows.",
                "payload_hash": req.payload_hash,
            },
            HTTP_HX_REQUEST="true",
        )
    # then: the fragment says it is done and the customer got exactly the edited text, once
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="main">')
    assert "Approved" in html
    assert "Approved and done." in agent_client.get(f"/approvals/{req.pk}/").content.decode()
    sent = customer_mail(contact)
    assert len(sent) == 1
    assert sent[0].body == "Hi Olivia,\nit left the warehouse today. Tracking follows."
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.EXECUTED
    decision = req.decisions.get()
    assert decision.verdict == "approve_with_edits"
    assert decision.edit_ratio > 0
    # and a second click changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        again = agent_client.post(
            f"/approvals/{req.pk}/decide/",
            {"verdict": "approve", "payload_hash": req.payload_hash},
            HTTP_HX_REQUEST="true",
        )
    assert len(customer_mail(contact)) == 1
    assert "Review and decide" not in again.content.decode()


def test_approving_unchanged_text_records_a_plain_approval(
    agent_client, make_email_request, django_capture_on_commit_callbacks
):
    req = make_email_request()
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(
            f"/approvals/{req.pk}/decide/",
            {
                "verdict": "approve",
                "edit_subject": req.final["subject"],
                "edit_body": req.final["body"],
                "payload_hash": req.payload_hash,
            },
        )
    assert req.decisions.get().verdict == "approve"


def test_rejecting_needs_a_reason_and_sends_nothing(
    agent_client, make_email_request, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    req = make_email_request(contact=contact)
    response = agent_client.post(
        f"/approvals/{req.pk}/decide/", {"verdict": "reject", "payload_hash": req.payload_hash}, HTTP_HX_REQUEST="true"
    )
    assert "Pick a reason" in response.content.decode()
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            f"/approvals/{req.pk}/decide/",
            {"verdict": "reject", "reason": "tone", "payload_hash": req.payload_hash},
            HTTP_HX_REQUEST="true",
        )
    assert "Rejected. Nothing was sent." in response.content.decode()
    assert customer_mail(contact) == []


def test_an_edit_that_breaks_the_payload_rules_is_shown_on_the_field(agent_client, make_email_request):
    req = make_email_request()
    response = agent_client.post(
        f"/approvals/{req.pk}/decide/",
        {
            "verdict": "approve",
            "edit_subject": "x" * 300,
            "edit_body": req.final["body"],
            "payload_hash": req.payload_hash,
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "field-error" in html
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    assert req.decisions.count() == 0


def test_the_requester_is_told_why_they_cannot_decide(client, support_agent, make_email_request):
    req = make_email_request(requested_by=support_agent)
    client.force_login(support_agent)
    html = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Review and decide" not in html
    assert 'name="verdict"' not in html


def test_detail_shows_flags_provenance_and_history(agent_client, make_email_request):
    from hitl_crm.ai.models import AiRun

    run = AiRun.objects.create(
        skill="draft_reply",
        backend="offline",
        prompt_version="v3",
        input_redacted={"customer_text": "Hi [NAME_1]"},
        output={"body": "…"},
        confidence=0.42,
    )
    req = make_email_request(
        ai_run=run,
        confidence=0.42,
        risk="high",
        flags=[{"code": "refund_promise", "message": "Promises a refund", "span": "full refund", "severity": "high"}],
    )
    html = agent_client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Promises a refund" in html
    assert "full refund" in html
    assert "What the AI saw" in html
    assert "Hi [NAME_1]" in html
    assert "42%" in html
    assert "created" in html  # the audit trail's first event


def test_filters_narrow_the_queue_in_place(agent_client, make_email_request):
    low = make_email_request(risk="low")
    high = make_email_request(risk="high")
    response = agent_client.get("/approvals/", {"risk": "high"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="queue-results">')
    assert f"/approvals/{high.pk}/" in html
    assert f"/approvals/{low.pk}/" not in html


def test_badge_counts_pending_items_for_this_user(client, support_agent, sales_rep, make_email_request):
    make_email_request()
    make_email_request()
    client.force_login(support_agent)
    assert client.get("/approvals/badge/").content == b"2"
    client.force_login(sales_rep)
    assert client.get("/approvals/badge/").content == b""


def test_queue_query_count_is_the_same_for_10_and_40_items(agent_client, make_email_request):
    counts = []
    for target in (10, 40):
        while ApprovalRequest.objects.count() < target:
            make_email_request()
        agent_client.get("/approvals/")  # warm caches
        with CaptureQueriesContext(connection) as ctx:
            response = agent_client.get("/approvals/", {"page": 1})
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_signed_link_opens_the_item_after_login(client, support_agent, make_email_request):
    req = make_email_request()
    token = review_link_token(request_id=req.pk, user_id=support_agent.pk)
    anonymous = client.get(f"/approvals/r/{token}/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")
    client.force_login(support_agent)
    response = client.get(f"/approvals/r/{token}/")
    assert response["Location"] == f"/approvals/{req.pk}/"


def test_a_forged_link_goes_nowhere(client, support_agent):
    client.force_login(support_agent)
    response = client.get("/approvals/r/forged-token/", follow=True)
    assert response.redirect_chain[-1][0] == "/approvals/"
    assert "not valid" in response.content.decode()


def test_analytics_is_for_managers(
    client, manager, support_agent, make_email_request, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    response = client.get("/approvals/analytics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Is the AI getting it right?" in html
    client.force_login(support_agent)
    assert client.get("/approvals/analytics/").status_code == 403


# --- a decision applies only to the version the reviewer saw -------------------------------------


def test_a_decision_on_a_version_that_changed_shows_the_current_one_and_keeps_the_comment(
    agent_client, make_email_request, make_user, django_capture_on_commit_callbacks
):
    # given: the reviewer opened the page (version 1) while a colleague edits and approves it
    from approvals.services import approval_decide

    contact = ContactFactory()
    req = make_email_request(contact=contact)
    page = agent_client.get(f"/approvals/{req.pk}/").content.decode()
    assert f'name="payload_hash" value="{req.payload_hash}"' in page
    colleague = make_user("Manager", username="manager2")
    email_policy_groups = list(req.group_permissions.values_list("group_id", flat=True))
    colleague.groups.add(*email_policy_groups)
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=colleague,
        verdict="request_changes",
        comment="Mention the tracking link",
    )
    from approvals.services import approval_request_revise

    approval_request_revise(
        request_id=req.pk, actor=None, payload={**req.final, "body": "Hi,\nit shipped today; tracking follows."}
    )
    # when: the reviewer rejects what they saw, with a comment
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            f"/approvals/{req.pk}/decide/",
            {
                "verdict": "reject",
                "reason": "tone",
                "comment": "Too curt for this customer",
                "payload_hash": req.payload_hash,
            },
        )
    # then: 409, the conflict explained, the current version on the page, their comment kept, nothing decided
    assert response.status_code == 409
    html = response.content.decode()
    assert "This request changed since you opened it" in html
    assert "it shipped today; tracking follows." in html
    assert "Too curt for this customer" in html
    current = ApprovalRequest.objects.get(pk=req.pk)
    assert f'name="payload_hash" value="{current.payload_hash}"' in html
    assert current.status == ApprovalRequest.Status.PENDING
    assert not current.decisions.filter(verdict="reject").exists()


def test_a_decision_without_a_version_is_refused(agent_client, make_email_request):
    req = make_email_request()
    response = agent_client.post(f"/approvals/{req.pk}/decide/", {"verdict": "approve"}, HTTP_HX_REQUEST="true")
    assert "did not say which version you reviewed" in response.content.decode()
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    assert req.decisions.count() == 0


def test_a_material_edit_is_shown_as_such_in_the_history(client, make_refund, make_user):
    agent = make_user("Support agent", username="agent1")
    req = make_refund("1200.00")
    client.force_login(agent)
    client.post(
        f"/approvals/{req.pk}/decide/",
        {
            "verdict": "approve",
            "edit_amount": "400.00",
            "edit_note": "",
            "confirmed": "on",
            "payload_hash": req.payload_hash,
        },
    )
    html = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Amount changed from 1,200.00 USD to 400.00 USD — material" in html
    assert "of the text" not in html
    assert "Needs one more approval by a different reviewer" in html

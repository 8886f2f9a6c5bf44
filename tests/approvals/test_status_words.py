"""Reviewers read what happened ("Sent", "Refunded") and labels, not internal keys."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from approvals.templatetags.approvals_ui import status_word

pytestmark = pytest.mark.django_db


def test_a_sent_email_reads_sent_on_its_page(client, make_email_request, support_agent, on_commit):
    req = make_email_request()
    with on_commit():
        approval_decide(request_id=req.pk, reviewer=support_agent, verdict="approve", payload_hash=req.payload_hash)
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.EXECUTED
    client.force_login(support_agent)
    page = client.get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert '<span class="pill pill-executed">Sent</span>' in page
    assert ">Executed<" not in page


def test_a_carried_out_refund_reads_refunded(make_refund, manager, on_commit):
    req = make_refund("120.00")
    with on_commit():
        approval_decide(request_id=req.pk, reviewer=manager, verdict="approve", payload_hash=req.payload_hash)
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.EXECUTED
    assert status_word(req) == "Refunded"
    assert status_word(ApprovalRequest(action="service.issue_refund", status="executed")) == "Refunded"
    assert status_word(ApprovalRequest(action="marketing.send_campaign", status="executed")) == "Sent"
    assert status_word(ApprovalRequest(action="marketing.send_campaign", status="rejected")) == "Rejected"


def test_the_analytics_table_names_actions_by_their_label(client, make_email_request, support_agent, manager):
    req = make_email_request()
    approval_decide(
        request_id=req.pk, reviewer=support_agent, verdict="reject", reason="tone", payload_hash=req.payload_hash
    )
    client.force_login(manager)
    page = client.get(reverse("approvals:analytics")).content.decode()
    label = req.action_spec.label
    assert label != req.action
    assert f">{label}</td>" in page
    assert f">{req.action}</td>" not in page

"""Request changes on an AI reply: the AI redrafts it with the reviewer's comment as its instruction,
under the same approval request, and the comment shows on the case page."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from hitl_crm.ai.models import AiRun
from service.routing import SEND_REPLY
from tests.service.conftest import customer_mail

pytestmark = pytest.mark.django_db

COMMENT = "Also explain how to exchange it for another size if it does not fit"


def _pending(case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")


def test_request_changes_redrafts_the_reply_with_the_comment_under_the_same_request(
    client, desk, customer, receive, support_agent, run_on_commit
):
    # given: the AI drafted a reply about jacket sizes
    case = receive(customer.email, "Which jacket size?", "Small or medium insulated jacket over a t-shirt?").case
    req = _pending(case)
    first_body = req.final["body"]
    runs_before = AiRun.objects.filter(skill="draft_reply").count()

    # when: the agent asks for a change instead of rejecting
    with run_on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=support_agent,
            verdict="request_changes",
            comment=COMMENT,
        )

    # then: the same request is still pending, at version 2, redrafted by the AI from the comment
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    assert req.version == 2
    assert req.final["body"] != first_body
    assert "exchange" in req.final["body"].lower()
    assert {k: v for k, v in req.final.items() if k != "body"} == {
        k: v for k, v in req.proposal.items() if k != "body"
    }  # same recipient and threading
    redraft_run = AiRun.objects.filter(skill="draft_reply").order_by("-id").first()
    assert AiRun.objects.filter(skill="draft_reply").count() == runs_before + 1
    assert redraft_run.input_redacted["instruction"] == COMMENT
    version = req.versions.get(number=2)
    assert (version.source, version.note, version.ai_run_id) == ("redraft", COMMENT, redraft_run.pk)
    assert customer_mail(customer.email) == []  # nothing went out

    # and the case page tells the owner what was asked
    client.force_login(support_agent)
    page = client.get(case.get_absolute_url()).content.decode()
    assert "Changes requested by" in page
    assert COMMENT in page
    assert "redrafted as version 2" in page

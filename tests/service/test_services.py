"""The service desk's write services: one way to refuse (PermissionDenied), one way to fail on state
(InvalidState → 409), and every state change of a case or refund in the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import approval_decide
from hitl_crm.choices import Risk
from hitl_crm.errors import InvalidState
from service.models import Case, RefundRequest
from service.routing import ISSUE_REFUND
from service.services import (
    case_reply_submit,
    case_triage_correct,
    case_update,
    knowledge_article_create,
    knowledge_article_seed,
    knowledge_article_update,
    refund_request_create,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.service.urls_for_tests")]


def events(verb: str, target) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, target_id=str(target.pk)).order_by("id"))


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- refusing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda case: case_update(case=case, actor=None, data={"status": "closed"}),
        lambda case: case_triage_correct(case=case, actor=None, intent="complaint"),
        lambda case: case_reply_submit(case=case, author=None, body="Hello"),
        lambda case: refund_request_create(case=case, actor=None, amount=Decimal("5")),
        lambda case: knowledge_article_create(actor=None, title="Gift cards", body="Never expire."),
    ],
    ids=["case_update", "case_triage_correct", "case_reply_submit", "refund_request_create", "article_create"],
)
def test_a_write_without_an_actor_is_refused(make_case, call):
    # given
    case = make_case()
    # when / then: nobody is nobody's permission
    with pytest.raises(PermissionDenied):
        call(case)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert not RefundRequest.objects.exists()


def test_someone_without_the_permission_gets_403_from_the_api_not_400(make_case, sales_rep):
    # given: a sales rep sees their customer's case but may not change cases
    from tests.factories import ContactFactory

    case = make_case(contact=ContactFactory(owner=sales_rep))
    # when
    response = client_for(sales_rep).post(f"/api/v1/cases/{case.pk}/triage/", {"intent": "complaint"}, format="json")
    # then
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.intent != "complaint"


def test_an_article_edit_by_someone_without_the_permission_is_refused(support_agent, sales_rep):
    article = knowledge_article_create(actor=support_agent, title="Gift cards", body="They never expire.")

    with pytest.raises(PermissionDenied, match="You may not edit knowledge articles"):
        knowledge_article_update(article=article, actor=sales_rep, data={"body": "They expire."})

    article.refresh_from_db()
    assert article.body == "They never expire."


def test_seeded_articles_have_no_author(db):
    article = knowledge_article_seed(title="Returns", body="30 days.", published=True)

    assert article.author is None
    assert article.last_reviewed_at is not None


# --- failing on state --------------------------------------------------------------------------


def test_a_second_refund_for_the_same_case_is_a_conflict(desk, support_agent, make_case):
    # given: a refund waiting for approval
    case = make_case(intent="get_refund")
    api = client_for(support_agent)
    first = api.post("/api/v1/refunds/", {"case": case.pk, "amount": "20"}, format="json")
    # when
    second = api.post("/api/v1/refunds/", {"case": case.pk, "amount": "30"}, format="json")
    # then: 409 with the reason, and still one refund
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["detail"] == "A refund for this case is already waiting for approval."
    assert RefundRequest.objects.filter(case=case).count() == 1
    with pytest.raises(InvalidState):
        refund_request_create(case=case, actor=support_agent, amount=Decimal("30"))


# --- auditing ----------------------------------------------------------------------------------


def test_a_status_owner_and_priority_change_is_audited_with_before_and_after(make_case, support_agent, manager):
    # given
    case = make_case()
    # when
    case_update(case=case, actor=support_agent, data={"status": "resolved", "priority": "high", "owner": manager})
    # then
    (event,) = events("service.case_updated", case)
    assert event.actor == support_agent
    assert event.data["before"] == {"status": "open", "priority": "normal", "owner": None}
    assert event.data["after"] == {"status": "resolved", "priority": "high", "owner": manager.pk}


def test_saving_the_same_values_again_writes_no_audit_event(make_case, support_agent):
    case = make_case()

    case_update(case=case, actor=support_agent, data={"status": "open"})

    assert events("service.case_updated", case) == []


def test_a_triage_correction_is_audited(desk, customer, receive, support_agent):
    case = receive(customer.email, "Which jacket size?", "Small or medium?").case
    case.refresh_from_db()  # as triaged by the pipeline
    before = case.intent

    case_triage_correct(case=case, actor=support_agent, intent="complaint", sentiment=-0.5)

    (event,) = events("service.case_triage_corrected", case)
    assert event.actor == support_agent
    assert event.data["before"]["intent"] == before
    assert event.data["after"] == {"intent": "complaint", "sentiment": -0.5}


def test_a_refund_request_and_its_rejection_are_audited(desk, make_case, support_agent, manager, run_on_commit):
    # given: an agent proposes a refund
    case = make_case(intent="get_refund")
    refund = refund_request_create(case=case, actor=support_agent, amount=Decimal("40"), order_ref="nw-1")
    req = ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(refund.pk))
    # when: a manager rejects it
    with run_on_commit():
        approval_decide(
            request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="reject", reason="policy"
        )
    # then: the refund is rejected, and both changes are in the audit trail
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.REJECTED
    requested, closed = events("service.refund_requested", refund) + events("service.refund_status_changed", refund)
    assert requested.actor == support_agent
    assert requested.data["after"] == {"status": "proposed"}
    assert closed.actor_type == AuditEvent.ActorType.SYSTEM
    assert (closed.data["before"], closed.data["after"]) == ({"status": "proposed"}, {"status": "rejected"})
    assert closed.data["approval_request"] == req.pk


def test_a_customer_writing_to_a_resolved_case_reopens_it_audited_as_the_system(desk, customer, receive, support_agent):
    # given: a resolved case
    first = receive(customer.email, "Where is my order?", "Order NW-1 has not arrived.")
    case_update(case=first.case, actor=support_agent, data={"status": "resolved"})
    # when: the customer answers in the thread
    again = receive(customer.email, "Re: Where is my order?", "Still nothing.", in_reply_to=first.message.message_id)
    # then
    assert again.case.pk == first.case.pk
    assert again.case.status == Case.Status.OPEN
    (event,) = events("service.case_reopened", first.case)
    assert event.actor_type == AuditEvent.ActorType.SYSTEM
    assert (event.data["before"], event.data["after"]) == ({"status": "resolved"}, {"status": "open"})


def test_case_risk_is_the_kernel_risk():
    assert Case.Risk is Risk
    assert Case._meta.get_field("risk").choices == Risk.choices


def test_publishing_an_article_is_audited(support_agent):
    article = knowledge_article_create(actor=support_agent, title="Gift cards", body="They never expire.")

    knowledge_article_update(article=article, actor=support_agent, data={"published": True})

    (created,) = events("service.article_created", article)
    (published,) = events("service.article_updated", article)
    assert created.actor == published.actor == support_agent
    assert created.data["after"] == {"title": "Gift cards", "published": False}
    assert published.data["before"] == {"published": False, "last_reviewed_at": None}
    assert published.data["after"]["published"] is True
    assert published.data["after"]["last_reviewed_at"]

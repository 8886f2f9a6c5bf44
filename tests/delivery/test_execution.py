"""Approved effects through the delivery kernel: no lock held while sending, and a worker that died
mid-send leaves a "possibly sent" item for a person instead of a second email."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from approvals.services import approval_decide, approval_execute, approval_requeue
from hitl_crm.contacts.models import Activity
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import delivery_mark_sent, delivery_send_again
from service.gateways import GatewayResult
from service.models import LedgerEntry, RefundRequest
from service.routing import ISSUE_REFUND
from tests.delivery import backends

Status = ApprovalRequest.Status
State = Delivery.State


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing of ours catches it, so every committed state stays as it was."""


def _die_mid_send(req: ApprovalRequest) -> None:
    """Run the executor until the mail server has the message, then "kill" the worker."""
    backends.BEHAVIOUR["raise"] = WorkerKilled()
    with pytest.raises(WorkerKilled):
        approval_execute(request_id=req.pk)
    backends.BEHAVIOUR["raise"] = None
    # the claim outlived the worker; the lease ran out
    ApprovalRequest.objects.filter(pk=req.pk).update(claimed_at=timezone.now() - timedelta(hours=1))


def _verbs(req: ApprovalRequest) -> list[str]:
    return list(AuditEvent.objects.filter(request=req).order_by("id").values_list("verb", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_mail_backend_is_called_with_no_transaction_open(approve_email):
    # when: a reviewer approves and the execution runs (eagerly, after commit)
    req = approve_email(execute=True)
    # then: sent once, and while it was handed over no transaction (hence no row lock) was open
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    # (the reviewers' notification went through the same kernel, also outside any transaction)
    assert backends.SEEN
    assert not any(seen["in_atomic_block"] for seen in backends.SEEN)
    assert len([m for m in mail.outbox if m.to == [req.final["to"]]]) == 1
    delivery = Delivery.objects.get(key=req.execution_key)
    assert delivery.state == State.SENT
    sent = next(m for m in mail.outbox if m.to == [req.final["to"]])
    assert sent.extra_headers["Message-ID"] == f"<{req.execution_key}@northwind.example>"
    assert req.result["delivery"] == delivery.pk


@pytest.mark.django_db
def test_a_worker_killed_mid_send_leaves_it_possibly_sent_for_a_person(approve_email, settings):
    settings.HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS = 60
    req = approve_email()
    _die_mid_send(req)
    assert ApprovalRequest.objects.get(pk=req.pk).status == Status.EXECUTING
    assert Delivery.objects.get(key=req.execution_key).state == State.SENDING
    # when: the task is redelivered to another worker
    req = approval_execute(request_id=req.pk)
    # then: nothing is sent again; the request and the delivery say "possibly sent"
    assert len(backends.SEEN) == 1
    assert req.status == Status.FAILED
    assert req.error.startswith("Possibly sent — a person must decide")
    assert Delivery.objects.get(key=req.execution_key).state == State.UNKNOWN
    assert not Activity.objects.filter(data__execution_key=req.execution_key).exists()
    assert "claim_released" in _verbs(req)
    # and: re-queueing it does not resend it either
    from hitl_crm.accounts.roles import MANAGER
    from tests.factories import UserFactory

    boss = UserFactory(username="boss2", roles=[MANAGER])
    approval_requeue(request_id=req.pk, actor=boss)
    req = approval_execute(request_id=req.pk)
    assert req.status == Status.FAILED
    assert "Possibly sent" in req.error
    assert len(backends.SEEN) == 1


@pytest.mark.django_db
def test_send_again_sends_once_more_and_finishes_the_approval(
    approve_email, manager, settings, django_capture_on_commit_callbacks
):
    settings.HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS = 60
    req = approve_email()
    _die_mid_send(req)
    approval_execute(request_id=req.pk)
    delivery = Delivery.objects.get(key=req.execution_key)
    # when: a manager decides it did not arrive
    with django_capture_on_commit_callbacks(execute=True):
        delivery_send_again(delivery_id=delivery.pk, actor=manager)
    # then: exactly one more message, with the same Message-ID, and the approval is done
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{req.execution_key}@northwind.example>"
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert Activity.objects.filter(data__execution_key=req.execution_key).count() == 1
    resolved = AuditEvent.objects.get(request=req, verb="delivery_resolved")
    assert resolved.actor == manager
    assert _verbs(req).count("executed") == 1


@pytest.mark.django_db
def test_mark_as_sent_sends_nothing_and_finishes_the_approval(
    approve_email, manager, settings, django_capture_on_commit_callbacks
):
    settings.HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS = 60
    req = approve_email()
    _die_mid_send(req)
    approval_execute(request_id=req.pk)
    delivery = Delivery.objects.get(key=req.execution_key)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_mark_sent(delivery_id=delivery.pk, actor=manager)
    assert mail.outbox == []
    assert len(backends.SEEN) == 1  # only the killed attempt ever reached the backend
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    assert Activity.objects.filter(data__execution_key=req.execution_key).count() == 1
    assert AuditEvent.objects.get(request=req, verb="delivery_resolved").actor == manager


@pytest.mark.django_db
def test_a_redelivery_after_the_message_was_sent_only_records_it(approve_email, settings):
    # given: the message went out, then the worker died before recording it
    settings.HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS = 60
    req = approve_email()
    from approvals import execution

    real_complete = execution._complete

    def die(*args, **kwargs):
        raise WorkerKilled

    execution._complete = die
    try:
        with pytest.raises(WorkerKilled):
            approval_execute(request_id=req.pk)
    finally:
        execution._complete = real_complete
    ApprovalRequest.objects.filter(pk=req.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert Delivery.objects.get(key=req.execution_key).state == State.SENT
    # when
    req = approval_execute(request_id=req.pk)
    # then: recorded, not sent again
    assert req.status == Status.EXECUTED
    assert len(mail.outbox) == 1
    assert Activity.objects.filter(data__execution_key=req.execution_key).count() == 1


@pytest.mark.django_db
def test_the_approval_page_shows_possibly_sent_with_a_link_for_managers(approve_email, admin_user, client, settings):
    settings.HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS = 60
    req = approve_email()
    _die_mid_send(req)
    approval_execute(request_id=req.pk)
    client.force_login(admin_user)
    html = client.get(f"/approvals/{req.pk}/").content.decode()
    assert "Possibly sent — a person must decide whether to send it again." in html
    delivery = Delivery.objects.get(key=req.execution_key)
    assert f'href="/deliveries/#delivery-{delivery.pk}"' in html


# --- refunds -----------------------------------------------------------------------------------

GATEWAY_CALLS: list[dict] = []


class TimingOutGateway:
    """The request reached the provider, then the answer never came back: did it pay?"""

    def refund(self, *, idempotency_key, amount, currency, order_ref, metadata=None) -> GatewayResult:
        GATEWAY_CALLS.append({"key": idempotency_key, "amount": amount, "in_atomic_block": connection.in_atomic_block})
        raise TimeoutError("read timed out")


class PayingGateway:
    def refund(self, *, idempotency_key, amount, currency, order_ref, metadata=None) -> GatewayResult:
        GATEWAY_CALLS.append({"key": idempotency_key, "amount": amount, "in_atomic_block": connection.in_atomic_block})
        return GatewayResult(f"psp-{idempotency_key[-6:]}", amount, currency)


REFUND_ASK = "I bought a headlamp on order NW-21010 two days ago; it's unused. Please refund my $35."


def _approve_refund(case, agent, run):
    req = ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(RefundRequest.objects.get(case=case).pk))
    with run(execute=True):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
    req.refresh_from_db()
    return req


@pytest.mark.django_db
@override_settings(HITL_CRM_SERVICE_PAYMENT_GATEWAY="tests.delivery.test_execution.TimingOutGateway")
def test_a_refund_whose_gateway_call_timed_out_goes_to_a_person(
    desk, customer, receive, support_agent, manager, django_capture_on_commit_callbacks
):
    GATEWAY_CALLS.clear()
    case = receive(customer.email, "Refund", REFUND_ASK).case
    # when: approved; the gateway times out after the request left
    req = _approve_refund(case, support_agent, django_capture_on_commit_callbacks)
    # then: called once, with the execution key as idempotency key; not retried, not recorded as paid
    assert [c["key"] for c in GATEWAY_CALLS] == [req.execution_key]
    assert req.status == Status.FAILED
    assert "Possibly sent" in req.error
    delivery = Delivery.objects.get(key=req.execution_key)
    assert (delivery.kind, delivery.channel, delivery.state) == ("refund", "payment", State.UNKNOWN)
    assert delivery.summary == "Refund 35.00 USD"
    assert RefundRequest.objects.get(case=case).amount_issued is None  # not recorded as paid
    # when: the manager checks with the provider and marks it paid
    with django_capture_on_commit_callbacks(execute=True):
        delivery_mark_sent(delivery_id=delivery.pk, actor=manager)
    # then: recorded as issued, nothing paid again
    assert len(GATEWAY_CALLS) == 1
    req.refresh_from_db()
    assert req.status == Status.EXECUTED
    refund = RefundRequest.objects.get(case=case)
    assert refund.status == RefundRequest.Status.ISSUED
    assert refund.amount_issued == Decimal("35.00")


@pytest.mark.django_db(transaction=True)
@override_settings(HITL_CRM_SERVICE_PAYMENT_GATEWAY="tests.delivery.test_execution.PayingGateway")
def test_the_gateway_is_called_with_no_transaction_open(
    desk, customer, receive, support_agent, django_capture_on_commit_callbacks
):
    GATEWAY_CALLS.clear()
    case = receive(customer.email, "Refund", REFUND_ASK).case
    req = _approve_refund(case, support_agent, django_capture_on_commit_callbacks)
    assert req.status == Status.EXECUTED
    expected = [{"key": req.execution_key, "amount": Decimal("35.00"), "in_atomic_block": False}]
    assert expected == GATEWAY_CALLS
    assert RefundRequest.objects.get(case=case).gateway_reference == f"psp-{req.execution_key[-6:]}"
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_a_refused_email_fails_and_a_requeue_sends_it_once(approve_email, manager):
    # given: the server refuses the message for good (5xx)
    backends.BEHAVIOUR["raise"] = backends.REFUSED
    req = approve_email()
    req = approval_execute(request_id=req.pk)
    assert req.status == Status.FAILED
    assert req.error.startswith("Not accepted: SMTPDataError")
    assert Delivery.objects.get(key=req.execution_key).state == State.FAILED
    assert mail.outbox == []
    # when: the cause is fixed and a manager re-queues it
    backends.BEHAVIOUR["raise"] = None
    approval_requeue(request_id=req.pk, actor=manager)
    req = approval_execute(request_id=req.pk)
    # then: sent once, with the same key
    assert req.status == Status.EXECUTED
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [f"<{req.execution_key}@northwind.example>"]
    verbs = list(Delivery.objects.get(key=req.execution_key).events.values_list("verb", flat=True))
    assert verbs == ["prepared", "sending", "refused", "retry", "sending", "sent"]

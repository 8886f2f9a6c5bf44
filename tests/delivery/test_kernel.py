"""The delivery kernel's states: prepared → sending → sent | failed | unknown, and what a person may do."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import connection, connections
from django.utils import timezone

from hitl_crm.delivery.channels import DeliveryDeferred, email_content
from hitl_crm.delivery.locks import session_lock
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import (
    DeliveryStateError,
    Outbound,
    delivery_mark_sent,
    delivery_prepare,
    delivery_send,
    delivery_send_again,
)
from tests.delivery import backends

pytestmark = pytest.mark.django_db
State = Delivery.State


def _prepared(key: str = "apr-1-abc") -> Delivery:
    message = EmailMessage(
        subject="Your refund",
        body="It is on its way.",
        from_email="support@northwind.example",
        to=["dana@customer.example"],
        headers={"Message-ID": f"<{key}@northwind.example>"},
    )
    outbound = Outbound(
        channel="email", kind="reply", content=email_content(message), recipient="dana@customer.example"
    )
    return delivery_prepare(key=key, outbound=outbound)


def _verbs(delivery: Delivery) -> list[str]:
    return list(delivery.events.values_list("verb", flat=True))


def test_a_prepared_delivery_is_sent_once_and_recorded_as_sent():
    # given
    delivery = _prepared()
    assert delivery.state == State.PREPARED
    # when
    delivery = delivery_send(delivery_id=delivery.pk)
    # then: one message, with the execution key as its Message-ID
    assert delivery.state == State.SENT
    assert delivery.sent_at is not None
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == ["<apr-1-abc@northwind.example>"]
    assert _verbs(delivery) == ["prepared", "sending", "sent"]


def test_a_sent_delivery_delivered_again_sends_nothing():
    delivery = delivery_send(delivery_id=_prepared().pk)
    # when: the same key is prepared and sent again (a redelivered task)
    again = delivery_send(delivery_id=_prepared().pk)
    # then
    assert again.pk == delivery.pk
    assert again.state == State.SENT
    assert len(mail.outbox) == 1


def test_a_deferral_leaves_it_prepared_for_a_retry_and_sends_nothing():
    backends.BEHAVIOUR["raise"] = backends.DEFERRED
    delivery = _prepared()
    with pytest.raises(DeliveryDeferred, match="451"):
        delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == State.PREPARED
    assert mail.outbox == []
    # and the retry sends it
    backends.BEHAVIOUR["raise"] = None
    assert delivery_send(delivery_id=delivery.pk).state == State.SENT
    assert len(mail.outbox) == 1


def test_a_permanent_refusal_marks_it_failed():
    backends.BEHAVIOUR["raise"] = backends.REFUSED
    delivery = delivery_send(delivery_id=_prepared().pk)
    assert delivery.state == State.FAILED
    assert "554" in delivery.error
    assert _verbs(delivery)[-1] == "refused"


def test_a_connection_lost_after_handing_the_message_over_is_unknown_not_retried():
    backends.BEHAVIOUR["raise"] = backends.DISCONNECTED_AFTER_DATA
    delivery = delivery_send(delivery_id=_prepared().pk)
    assert delivery.state == State.UNKNOWN
    assert "Possibly sent" in delivery.error
    # a later delivery of the task sends nothing
    backends.BEHAVIOUR["raise"] = None
    assert delivery_send(delivery_id=delivery.pk).state == State.UNKNOWN
    assert len(backends.SEEN) == 1


def test_a_sending_delivery_whose_worker_died_becomes_unknown_and_is_not_sent(settings):
    # given: a worker marked it sending 20 minutes ago and died
    settings.HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS = 600
    delivery = _prepared()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=State.SENDING, sending_at=timezone.now() - timedelta(minutes=20)
    )
    # when: the redelivered task runs
    delivery = delivery_send(delivery_id=delivery.pk)
    # then
    assert delivery.state == State.UNKNOWN
    assert backends.SEEN == []


@contextmanager
def _live_sender(delivery_id: int):
    """Another worker's session holds the delivery's session lock (PostgreSQL); elsewhere nothing to hold."""
    if connection.vendor != "postgresql":
        yield
        return
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with session_lock(f"delivery:{delivery_id}"):
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_a_delivery_its_live_worker_is_sending_is_left_to_it(settings):
    settings.HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS = 600
    delivery = _prepared()
    Delivery.objects.filter(pk=delivery.pk).update(state=State.SENDING, sending_at=timezone.now())
    with _live_sender(delivery.pk):
        assert delivery_send(delivery_id=delivery.pk).state == State.SENDING
    assert backends.SEEN == []


@pytest.fixture
def unknown() -> Delivery:
    backends.BEHAVIOUR["raise"] = backends.DISCONNECTED_AFTER_DATA
    delivery = delivery_send(delivery_id=_prepared().pk)
    backends.BEHAVIOUR["raise"] = None
    backends.SEEN.clear()
    assert delivery.state == State.UNKNOWN
    return delivery


def test_send_again_sends_exactly_once_more_and_records_who(unknown, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delivery_send_again(delivery_id=unknown.pk, actor=manager)
    unknown.refresh_from_db()
    assert unknown.state == State.SENT
    assert unknown.resolved_by == manager
    assert len(mail.outbox) == 1
    event = unknown.events.get(verb="send_again")
    assert event.actor == manager
    # a second click finds nothing to decide
    with pytest.raises(DeliveryStateError):
        delivery_send_again(delivery_id=unknown.pk, actor=manager)
    assert len(mail.outbox) == 1


def test_mark_as_sent_sends_nothing_and_records_who(unknown, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delivery_mark_sent(delivery_id=unknown.pk, actor=manager)
    unknown.refresh_from_db()
    assert unknown.state == State.SENT
    assert unknown.resolved_by == manager
    assert unknown.events.get(verb="marked_sent").actor == manager
    assert mail.outbox == []
    assert backends.SEEN == []


@pytest.mark.parametrize("who", ["support_agent", "sales_rep", "marketer", "nobody"])
def test_only_people_with_the_permission_may_resolve(unknown, who, request):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        delivery_send_again(delivery_id=unknown.pk, actor=user)
    with pytest.raises(PermissionDenied):
        delivery_mark_sent(delivery_id=unknown.pk, actor=user)
    unknown.refresh_from_db()
    assert unknown.state == State.UNKNOWN
    assert mail.outbox == []


def test_the_possibly_sent_page_lists_it_for_managers_and_is_403_for_others(unknown, client, manager, support_agent):
    # managers see it, with both buttons, and the nav links to the page
    client.force_login(manager)
    page = client.get("/deliveries/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "dana@customer.example" in html
    assert "Possibly sent" in html
    assert f"/deliveries/{unknown.pk}/send-again/" in html
    assert f"/deliveries/{unknown.pk}/mark-sent/" in html
    assert 'href="/deliveries/"' in html
    # an agent gets 403 on the page and on both actions, and no link in the nav
    client.force_login(support_agent)
    assert client.get("/deliveries/").status_code == 403
    assert client.post(f"/deliveries/{unknown.pk}/send-again/").status_code == 403
    assert client.post(f"/deliveries/{unknown.pk}/mark-sent/").status_code == 403
    assert 'href="/deliveries/"' not in client.get("/").content.decode()
    unknown.refresh_from_db()
    assert unknown.state == State.UNKNOWN


def test_mark_as_sent_from_the_page(unknown, client, manager, django_capture_on_commit_callbacks):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/deliveries/{unknown.pk}/mark-sent/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Sent" in response.content.decode()
    unknown.refresh_from_db()
    assert unknown.state == State.SENT
    assert mail.outbox == []

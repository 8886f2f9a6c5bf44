"""Reviewer digests (issue 12): one email per reviewer per interval, listing new and overdue items."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from approvals import notifications
from approvals.models import ApprovalRequest, ReviewerNotice
from approvals.notifications import approval_send_digests, review_link_resolve, review_link_url
from approvals.services import approval_decide
from approvals.tasks import approval_digest_task
from hitl_crm.delivery.channels import DeliveryDeferred
from hitl_crm.delivery.models import Delivery
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]

# 12:14 is one minute before a 15-minute boundary: a clock-aligned window would start anew at 12:15.
T0 = datetime(2026, 12, 2, 12, 14, tzinfo=UTC)
SITE = "https://crm.example.com"
LINK = re.compile(re.escape(SITE) + r"/approvals/r/([^/\s]+)/")


@pytest.fixture
def digests(settings):
    settings.HITL_CRM_APPROVALS_DIGEST_MINUTES = 15
    settings.HITL_CRM_SITE_URL = SITE
    mail.outbox.clear()
    return settings


@pytest.fixture
def agent(make_user):
    def make(username, **kwargs):
        kwargs.setdefault("email", f"{username}@staff.example")
        return make_user("Support agent", username=username, **kwargs)

    return make


def at(moment, fn, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return fn(*args, **kwargs)


def run_digest(moment):
    """The beat task, as beat would run it at ``moment``."""
    return at(moment, lambda: approval_digest_task.apply().get())


def mails_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def listed(message):
    """(request id, user id) of every signed link in the mail, per section."""
    body = message.body
    overdue_part, _, new_part = body.partition("NEW —")
    if "OVERDUE —" not in overdue_part:
        overdue_part = ""
    return (
        [review_link_resolve(token) for token in LINK.findall(overdue_part)],
        [review_link_resolve(token) for token in LINK.findall(new_part)],
    )


def test_35_new_items_make_one_email_per_reviewer_each_listing_all_of_them(
    digests, agent, make_email_request, on_commit
):
    # given: two agents; 35 requests routed to their group (the per-item task runs and sends nothing)
    a1, a2 = agent("a1"), agent("a2")
    with on_commit():
        reqs = [at(T0 - timedelta(minutes=5), make_email_request) for _ in range(35)]
    assert mail.outbox == []
    # when
    sent = run_digest(T0)
    # then: one each, with a signed link of their own to every item
    assert sent == 2
    assert len(mail.outbox) == 2
    for user in (a1, a2):
        [message] = mails_to(user.email)
        overdue, new = listed(message)
        assert overdue == []
        assert sorted(new) == sorted((req.pk, user.pk) for req in reqs)
        assert message.subject == "[Review] 35 new waiting for you"
        assert f"{SITE}/approvals/" in message.body  # the queue link


def test_within_the_interval_nothing_more_after_it_only_what_is_new(digests, agent, make_email_request):
    # given: a digest at 12:14 announcing two items
    a1 = agent("a1")
    old = [at(T0 - timedelta(minutes=1), make_email_request) for _ in range(2)]
    assert run_digest(T0) == 1
    # when: one more item arrives; runs at 12:16 and 12:28 are inside the 15 minutes since then
    newer = at(T0 + timedelta(minutes=1), make_email_request)
    assert run_digest(T0 + timedelta(minutes=2)) == 0
    assert run_digest(T0 + timedelta(minutes=14)) == 0
    assert len(mail.outbox) == 1
    # then: after the interval, only the newer item (the old ones are pending, not yet due)
    assert run_digest(T0 + timedelta(minutes=15, seconds=1)) == 1
    overdue, new = listed(mail.outbox[1])
    assert overdue == []
    assert new == [(newer.pk, a1.pk)]
    assert not {(req.pk, a1.pk) for req in old} & set(new)
    assert mail.outbox[1].subject == "[Review] 1 new waiting for you"
    # and with nothing new, the next interval sends nothing
    assert run_digest(T0 + timedelta(minutes=40)) == 0
    assert len(mail.outbox) == 2


def test_overdue_items_are_listed_as_overdue_and_decided_ones_drop_out(digests, agent, make_email_request):
    # given: three items (60-minute SLA) announced at 12:14
    a1, a2 = agent("a1"), agent("a2")
    r1, r2, r3 = (at(T0, make_email_request) for _ in range(3))
    assert run_digest(T0) == 2
    # when: a2 rejects r2; r1 and r3 pass their due time; a new item r4 arrives
    at(
        T0 + timedelta(minutes=10),
        approval_decide,
        request_id=r2.pk,
        payload_hash=r2.payload_hash,
        reviewer=a2,
        verdict="reject",
        reason="not_needed",
    )
    r4 = at(T0 + timedelta(minutes=61), make_email_request)
    mail.outbox.clear()
    assert run_digest(T0 + timedelta(minutes=62)) == 2
    # then: overdue r1 and r3 under OVERDUE (not as new again), r4 as new, r2 nowhere
    [message] = mails_to(a1.email)
    overdue, new = listed(message)
    assert overdue == [(r1.pk, a1.pk), (r3.pk, a1.pk)]
    assert new == [(r4.pk, a1.pk)]
    assert message.subject == "[Review] 1 new and 2 overdue waiting for you"
    assert review_link_url(request_id=r1.pk, user_id=a1.pk).startswith(SITE + "/approvals/r/")
    # and when r1 is decided, the next digest (only r3 still overdue, already told) is not sent
    at(
        T0 + timedelta(minutes=70),
        approval_decide,
        request_id=r1.pk,
        payload_hash=r1.payload_hash,
        reviewer=a1,
        verdict="reject",
        reason="not_needed",
    )
    mail.outbox.clear()
    assert run_digest(T0 + timedelta(minutes=80)) == 0
    # but a new miss of a moved due time (escalation) is reported again, without r1
    ApprovalRequest.objects.filter(pk=r3.pk).update(due_at=T0 + timedelta(minutes=85))
    assert run_digest(T0 + timedelta(minutes=100)) == 2
    overdue, new = listed(mails_to(a1.email)[0])
    assert overdue == [(r3.pk, a1.pk)]
    assert new == []


def test_a_reviewer_who_already_approved_one_of_two_is_not_told_again(digests, make_user, make_refund, managers):
    # given: a refund above 20k needs two managers
    m1 = make_user("Manager", username="m1", email="m1@staff.example")
    m2 = make_user("Manager", username="m2", email="m2@staff.example")
    req = at(T0, make_refund, "25000.00")
    assert req.required_approvals == 2
    assert run_digest(T0) == 2
    # when: m1 approves; the request stays pending and becomes overdue
    at(
        T0 + timedelta(minutes=5),
        approval_decide,
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=m1,
        verdict="approve",
    )
    assert ApprovalRequest.objects.get(pk=req.pk).status == ApprovalRequest.Status.PENDING
    mail.outbox.clear()
    due = ApprovalRequest.objects.get(pk=req.pk).due_at
    run_digest(due + timedelta(minutes=1))
    # then: only m2, who still has to decide, hears it is overdue
    assert [m.to for m in mail.outbox] == [[m2.email]]
    overdue, _ = listed(mail.outbox[0])
    assert overdue == [(req.pk, m2.pk)]
    assert "Needs 2 approvals" in mail.outbox[0].body


def test_nobody_is_told_of_an_item_they_may_not_decide(digests, agent, make_user, make_email_request):
    # given: a sales rep (not a reviewer), the contact's owner, the requester, an inactive agent
    a1 = agent("a1")
    owner = agent("owner")
    asker = agent("asker")
    agent("gone", is_active=False)
    rep = make_user("Sales rep", username="rep", email="rep@staff.example")
    owned = at(T0, make_email_request, ContactFactory(owner=owner), requested_by=asker)
    other = at(T0, make_email_request)
    # when
    run_digest(T0)
    # then
    assert mails_to(rep.email) == []
    assert mails_to("gone@staff.example") == []
    assert sorted(listed(mails_to(a1.email)[0])[1]) == [(owned.pk, a1.pk), (other.pk, a1.pk)]
    assert listed(mails_to(owner.email)[0])[1] == [(other.pk, owner.pk)]
    assert listed(mails_to(asker.email)[0])[1] == [(other.pk, asker.pk)]
    assert len(mail.outbox) == 3


def test_a_reviewer_removed_from_the_group_is_not_told(digests, agent, make_email_request, agents):
    a1, a2 = agent("a1"), agent("a2")
    at(T0, make_email_request)
    a2.groups.remove(agents)
    run_digest(T0)
    assert [m.to for m in mail.outbox] == [[a1.email]]


def test_due_times_are_shown_in_the_site_time_zone(digests, agent, make_email_request):
    # given: Berlin; a request made at 12:14 UTC with a 60-minute SLA is due 13:14 UTC = 14:14 CET
    digests.TIME_ZONE = "Europe/Berlin"
    agent("a1")
    req = at(T0, make_email_request)
    assert req.due_at == datetime(2026, 12, 2, 13, 14, tzinfo=UTC)
    # when: the worker happens to have another time zone active
    with timezone.override("America/New_York"):
        run_digest(T0 + timedelta(minutes=1))
    # then
    body = mail.outbox[0].body
    assert "Due: 2026-12-02 14:14 CET (Europe/Berlin)" in body
    assert "Summary as of 2026-12-02 13:15 CET (Europe/Berlin)." in body
    assert "08:14" not in body  # New York
    assert "13:14" not in body  # UTC


def test_due_times_in_summer_carry_the_summer_abbreviation(digests, agent, make_email_request):
    digests.TIME_ZONE = "Europe/Berlin"
    agent("a1")
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    at(summer, make_email_request)
    run_digest(summer)
    assert "Due: 2026-07-01 11:00 CEST (Europe/Berlin)" in mail.outbox[0].body


def test_a_reviewer_without_an_email_address_is_skipped(digests, agent, make_email_request):
    agent("a1")
    agent("mute", email="")
    at(T0, make_email_request)
    assert run_digest(T0) == 1
    assert [m.to for m in mail.outbox] == [["a1@staff.example"]]


def test_per_item_mode_sends_one_email_per_item_and_the_beat_task_nothing(
    settings, agent, make_email_request, on_commit
):
    # given: per-item mode
    settings.HITL_CRM_APPROVALS_DIGEST_MINUTES = 0
    a1, a2 = agent("a1"), agent("a2")
    mail.outbox.clear()
    # when
    with on_commit():
        reqs = [make_email_request() for _ in range(3)]
    # then: each reviewer one email per item, with that item's link
    assert len(mails_to(a1.email)) == 3
    assert len(mails_to(a2.email)) == 3
    for message in mails_to(a1.email):
        assert message.subject.startswith("[Review] ")
    tokens = sorted(review_link_resolve(m.body.split("/approvals/r/")[1].split("/")[0]) for m in mails_to(a1.email))
    assert tokens == sorted((req.pk, a1.pk) for req in reqs)
    # and the beat task does nothing
    mail.outbox.clear()
    assert approval_digest_task.apply().get() == 0
    assert mail.outbox == []
    assert not ReviewerNotice.objects.exists()


def test_two_runs_at_once_send_one_digest(digests, agent, make_email_request, monkeypatch):
    # given: an item, and a second run that starts while the first is composing its mail
    a1 = agent("a1")
    req = at(T0, make_email_request)
    compose = notifications._digest_message
    inner = []
    started = []

    def racing(user, inbox, *, now):
        if not started:
            started.append(True)
            inner.append(approval_send_digests(now=now))  # the other worker, start to finish
        return compose(user, inbox, now=now)

    monkeypatch.setattr(notifications, "_digest_message", racing)
    # when
    outer = at(T0, approval_send_digests)
    # then: the other worker sent it; this one, finding it done once it holds the lock, sends nothing
    assert inner == [1]
    assert outer == 0
    assert [m.to for m in mail.outbox] == [[a1.email]]
    assert ReviewerNotice.objects.filter(user=a1, request=req).count() == 1
    assert Delivery.objects.filter(key__startswith=notifications.DIGEST_KEY_PREFIX).count() == 1


def test_a_digest_the_mail_server_deferred_goes_out_once_on_the_next_run(
    digests, agent, make_email_request, monkeypatch
):
    # given: the mail server is down at 12:14
    agent("a1")
    at(T0, make_email_request)

    def down(delivery):
        raise DeliveryDeferred("connection refused")

    monkeypatch.setattr("hitl_crm.delivery.channels.transmit_email", down)
    assert run_digest(T0) == 0
    assert mail.outbox == []
    # when: it is back a minute later
    monkeypatch.undo()
    assert run_digest(T0 + timedelta(minutes=1)) == 1
    assert run_digest(T0 + timedelta(minutes=2)) == 0
    # then: exactly one digest
    assert len(mail.outbox) == 1
    assert Delivery.objects.get(key__startswith=notifications.DIGEST_KEY_PREFIX).state == Delivery.State.SENT


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_the_mail_goes_out(digests, agent, make_email_request, monkeypatch):
    # given
    agent("a1")
    at(T0, make_email_request)
    from hitl_crm.delivery import channels

    real = channels.transmit_email
    seen = []

    def watching(delivery):
        seen.append(connection.in_atomic_block)
        return real(delivery)

    monkeypatch.setattr(channels, "transmit_email", watching)
    # when
    assert run_digest(T0) == 1
    # then: sent with no transaction (so no row lock) held
    assert seen == [False]
    assert len(mail.outbox) == 1

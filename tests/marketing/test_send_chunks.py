"""One durable commit per campaign email: the "sent" mark of one message rides on the claim of the
next, and nothing about exactly-once changes — a crash still leaves at most the one message that was
being handed over in "sending", and that one goes to a person, never out again on its own."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.services import approval_decide, approval_execute
from hitl_crm.delivery.models import Delivery
from marketing import tokens
from marketing.delivery import Composer, absolute, send_batch
from marketing.models import Campaign, Send
from marketing.services import campaign_submit
from tests.delivery.smtp import _free_port

pytestmark = pytest.mark.django_db

SEEN: list[dict] = []


class WorkerDied(BaseException):
    """Stands in for SIGKILL: nothing in the sender catches it, nothing after it runs."""


class WatchingBackend(EmailBackend):
    """locmem that notes, at each hand-over, which rows of the campaign are in which state."""

    dies_at: int | None = None

    def send_messages(self, messages):
        statuses = dict(Send.objects.values_list("contact__email", "status"))
        SEEN.append({"to": messages[0].to[0], "statuses": statuses})
        accepted = super().send_messages(messages)
        if len(SEEN) == self.dies_at:
            raise WorkerDied  # the server has the message; the worker dies before it hears so
        return accepted


@pytest.fixture
def watching(settings):
    SEEN.clear()
    WatchingBackend.dies_at = None
    settings.EMAIL_BACKEND = "tests.marketing.test_send_chunks.WatchingBackend"
    yield WatchingBackend
    WatchingBackend.dies_at = None


def released(campaign, req, colleague, capture) -> tuple[int, int]:
    """Approve and execute without running the dispatch task; the one batch's range."""
    with capture(execute=False):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    with capture(execute=False):
        approval_execute(request_id=req.pk)
    (first, last), *rest = Campaign.objects.get(pk=campaign.pk).approved_content["test"]["batches"]
    assert rest == []
    return first, last


def ordered_sends(campaign) -> list[Send]:
    return list(Send.objects.filter(campaign=campaign).select_related("contact").order_by("pk"))


def test_each_message_costs_one_commit_and_only_the_one_being_handed_over_is_sending(
    make_campaign, marketer, colleague, campaign_policy, audience, django_capture_on_commit_callbacks, watching
):
    # given: an approved campaign of 10 messages in one batch, no send rate limit
    campaign = make_campaign(arms=1)
    first, last = released(
        campaign, campaign_submit(campaign=campaign, actor=marketer), colleague, django_capture_on_commit_callbacks
    )
    # when: the batch runs
    with CaptureQueriesContext(connection) as queries:
        result = send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    # then: everyone got one email, and the bookkeeping was one statement per message (plus the last mark)
    assert result.sent == 10
    assert Counter(m.to[0] for m in mail.outbox) == {c.email: 1 for c in audience}
    bookkeeping = [q["sql"] for q in queries.captured_queries if "claim_token" in q["sql"] and "UPDATE" in q["sql"]]
    assert len(bookkeeping) == 11
    # at every hand-over exactly one row was in "sending" (the message going out), the earlier ones sent
    sends = ordered_sends(campaign)
    for index, seen in enumerate(SEEN):
        states = Counter(seen["statuses"][s.contact.email] for s in sends)
        expected = {Send.Status.SENT: index, Send.Status.SENDING: 1, Send.Status.QUEUED: 9 - index}
        assert states == {status: n for status, n in expected.items() if n}
        assert seen["statuses"][seen["to"]] == Send.Status.SENDING


def test_a_worker_that_dies_after_a_commit_leaves_only_the_handed_over_message_for_a_person(
    make_campaign, marketer, colleague, campaign_policy, audience, django_capture_on_commit_callbacks, watching
):
    # given: a batch of 10 whose worker dies right after the server took the 4th message — after the
    # commit that marked the 3rd sent and claimed the 4th
    campaign = make_campaign(arms=1)
    first, last = released(
        campaign, campaign_submit(campaign=campaign, actor=marketer), colleague, django_capture_on_commit_callbacks
    )
    watching.dies_at = 4
    with pytest.raises(WorkerDied):
        send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    sends = ordered_sends(campaign)
    statuses = [s.status for s in sends]
    assert statuses == [Send.Status.SENT] * 3 + [Send.Status.SENDING] + [Send.Status.QUEUED] * 6
    assert len(mail.outbox) == 4
    # when: the lease runs out and the redelivered task runs the batch again
    Send.objects.filter(status=Send.Status.SENDING).update(claimed_at=timezone.now() - timedelta(minutes=20))
    watching.dies_at = None
    result = send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    # then: the 4th is "possibly sent" for a person and is not sent again; everyone has exactly one email
    assert (result.interrupted, result.sent) == (1, 6)
    in_flight = sends[3]
    in_flight.refresh_from_db()
    assert in_flight.status == Send.Status.INTERRUPTED
    unknown = Delivery.objects.get(kind="campaign")
    assert (unknown.state, unknown.recipient) == (Delivery.State.UNKNOWN, in_flight.contact.email)
    assert Counter(m.to[0] for m in mail.outbox) == {c.email: 1 for c in audience}
    assert Counter(Send.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        Send.Status.SENT: 9,
        Send.Status.INTERRUPTED: 1,
    }
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT


def test_under_a_send_rate_every_message_is_marked_sent_before_the_worker_pauses(
    make_campaign,
    marketer,
    colleague,
    campaign_policy,
    audience,
    django_capture_on_commit_callbacks,
    watching,
    settings,
):
    # given: a send rate (the worker pauses between messages): a kill during a pause must find
    # nothing that was handed over still in "sending"
    settings.HITL_CRM_MARKETING_SEND_RATE = 100
    campaign = make_campaign(arms=1)
    first, last = released(
        campaign, campaign_submit(campaign=campaign, actor=marketer), colleague, django_capture_on_commit_callbacks
    )
    # when
    send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    # then: at each hand-over the earlier messages were already marked sent
    sends = ordered_sends(campaign)
    for index, seen in enumerate(SEEN):
        before = {seen["statuses"][s.contact.email] for s in sends[:index]}
        assert before <= {Send.Status.SENT}
    assert len(mail.outbox) == 10


class RefusingHandler:
    """An SMTP server that refuses one recipient (550) and accepts everything else."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.received: list[str] = []
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's hook)
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def test_a_recipient_the_smtp_server_refuses_is_failed_and_the_rest_of_the_batch_is_sent(
    make_campaign, marketer, colleague, campaign_policy, audience, django_capture_on_commit_callbacks, settings
):
    # given: a real SMTP server that refuses one of the ten recipients
    refused = audience[3].email
    handler = RefusingHandler(refused)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        campaign = make_campaign(arms=1)
        first, last = released(
            campaign, campaign_submit(campaign=campaign, actor=marketer), colleague, django_capture_on_commit_callbacks
        )
        # when: the batch goes out over one connection
        result = send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    finally:
        controller.stop()
    # then: only the refused one is failed (with the server's reason); the nine others were received and sent
    assert (result.sent, result.failed, result.interrupted) == (9, 1, 0)
    assert handler.connections == 1
    assert sorted(handler.received) == sorted(c.email for c in audience if c.email != refused)
    rows = {s.contact.email: s for s in ordered_sends(campaign)}
    assert rows[refused].status == Send.Status.FAILED
    assert "No such mailbox" in rows[refused].error
    assert {s.status for email, s in rows.items() if email != refused} == {Send.Status.SENT}
    assert not Delivery.objects.exists()  # a refusal is certain: nothing for a person to decide


def test_links_built_once_per_batch_are_the_ones_reverse_gives_and_the_views_accept(client, audience):
    # given: a batch's composer and a send id
    composer = Composer()
    send_id, url = 4321, "https://shop.example/tents?src=mail&x=1"
    # then: byte for byte what reverse() gives for each freshly signed token …
    links = composer.tracking_urls(send_id)
    expected_unsubscribe = reverse("marketing:unsubscribe", args=[tokens.make_token(tokens.UNSUBSCRIBE, send_id)])
    assert links["unsubscribe"] == absolute(expected_unsubscribe)
    assert links["open"] == absolute(reverse("marketing:track_open", args=[tokens.make_token(tokens.OPEN, send_id)]))
    click = composer.click_url(send_id, url)
    assert click == absolute(reverse("marketing:track_click", args=[tokens.make_token(tokens.CLICK, send_id, url)]))
    # … and each token reads back as its own kind only
    token = click.rstrip("/").rpartition("/")[2]
    assert tokens.read_token(tokens.CLICK, token) == {"s": send_id, "u": url}
    assert tokens.read_token(tokens.OPEN, token) is None

"""The gate: nothing is sent before approval, never to unconsented or suppressed contacts, never twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals.exceptions import NotAllowed
from approvals.models import ApprovalRequest
from approvals.services import approval_decide, approval_execute
from hitl_crm.ai.models import AiRun
from hitl_crm.contacts.services import contact_unsubscribe
from marketing.delivery import send_batch
from marketing.models import Campaign, Send, Suppression, Variant
from marketing.selectors import style_outcomes
from marketing.services import (
    InvalidState,
    campaign_cancel,
    campaign_confirm_winner,
    campaign_create,
    campaign_dispatch_due,
    campaign_generate_variants,
    campaign_release_phase,
    campaign_submit,
    variant_update,
)
from tests.factories import ContactFactory
from tests.marketing.conftest import shortlisted

pytestmark = pytest.mark.django_db


def to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def approve(req, reviewer, on_commit) -> ApprovalRequest:
    with on_commit():
        return approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")


def test_submitting_plans_the_sends_but_sends_nothing(make_campaign, marketer, campaign_policy, audience):
    # given: a campaign with two shortlisted variants and ten reachable contacts
    campaign = make_campaign(arms=2)
    # when
    req = campaign_submit(campaign=campaign, actor=marketer)
    # then: a pending request carries the audience, the variants and the split …
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.IN_REVIEW
    assert req.status == "pending"
    assert req.action == "marketing.send_campaign"
    assert req.final["audience_size"] == 10
    assert [v["subject"] for v in req.final["variants"]] == ["Subject A", "Subject B"]
    assert sum(req.final["split"]["cells"].values()) == 10
    # … every reachable contact has a planned send, the others none …
    planned = Send.objects.filter(campaign=campaign)
    assert set(planned.values_list("contact_id", flat=True)) == {c.pk for c in audience}
    assert set(planned.values_list("status", flat=True)) == {Send.Status.PENDING}
    # … and no email exists, even if a dispatch task is run by mistake
    first, last = planned.order_by("pk").first().pk, planned.order_by("pk").last().pk
    result = send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    assert result.refused
    assert mail.outbox == []


def test_a_forged_release_without_an_executed_approval_sends_nothing(make_campaign, marketer, campaign_policy):
    # given: someone flips the campaign to sending and queues the rows behind the gate's back
    campaign = make_campaign(arms=1)
    campaign_submit(campaign=campaign, actor=marketer)
    variant = shortlisted(campaign)[0]
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING,
        approved_content={
            "test": {
                "key": "apr-forged",
                "variants": {str(variant.pk): {"subject": "x", "preheader": "", "body": "y", "style": "own"}},
            }
        },
    )
    campaign.sends.update(status=Send.Status.QUEUED)
    ids = list(campaign.sends.values_list("pk", flat=True))
    # when: the dispatch task runs
    result = send_batch(campaign_id=campaign.pk, phase="test", first_id=min(ids), last_id=max(ids))
    # then: it refuses — there is no executed approval with that key
    assert result.refused == "No executed approval for this phase."
    assert mail.outbox == []
    assert campaign.sends.filter(status=Send.Status.SENT).count() == 0


def test_the_campaign_owner_cannot_approve_it(make_campaign, marketer, campaign_policy):
    req = campaign_submit(campaign=make_campaign(), actor=marketer)
    with pytest.raises(NotAllowed):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=marketer, verdict="approve")
    assert mail.outbox == []


def test_approval_sends_each_contact_its_cell_exactly_once(
    make_campaign, marketer, colleague, campaign_policy, audience, on_commit
):
    # given: a submitted A/B campaign (the audience is smaller than the calculator asks: all are in the test)
    campaign = make_campaign(arms=2)
    req = campaign_submit(campaign=campaign, actor=marketer)
    # when: another marketer approves it
    approve(req, colleague, on_commit)
    # then: every reachable contact got exactly one email, with the subject of their cell's variant
    assert Counter(m.to[0] for m in mail.outbox) == {c.email: 1 for c in audience}
    for send in Send.objects.filter(campaign=campaign).select_related("contact", "variant"):
        assert send.status == Send.Status.SENT
        assert to(send.contact.email)[0].subject == send.variant.subject
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    req.refresh_from_db()
    assert req.status == "executed"
    assert req.result["queued"] == 10
    # and: running every batch again (a redelivered task) sends nothing more
    for first, last in campaign.approved_content["test"]["batches"]:
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
        send_batch(campaign_id=campaign.pk, phase="test", first_id=first, last_id=last)
    assert len(mail.outbox) == 10


def test_each_email_carries_unsubscribe_headers_tracking_and_escaped_copy(
    make_campaign, marketer, colleague, campaign_policy, audience, on_commit
):
    # given: copy with markup in it (AI or customer text must never become HTML)
    campaign = make_campaign(
        arms=1, body="Hi {first_name}, <b>bold</b> & <script>x()</script>\n\nhttps://shop.example/a"
    )
    approve(campaign_submit(campaign=campaign, actor=marketer), colleague, on_commit)
    message = to(audience[0].email)[0]
    send = Send.objects.get(campaign=campaign, contact=audience[0])
    # then: one-click unsubscribe over https plus a mailto, a stable Message-ID
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe, mailto = [part.strip(" <>") for part in message.extra_headers["List-Unsubscribe"].split(",")]
    assert unsubscribe.startswith("https://crm.example.com/marketing/u/")
    assert mailto.startswith("mailto:unsubscribe@")
    assert message.extra_headers["Message-ID"] == f"<mkt-{campaign.pk}-{send.pk}@northwind.example>"
    # the text part is personalised and names the unsubscribe link
    assert message.body.startswith(f"Hi {audience[0].first_name}, <b>bold</b>")
    assert unsubscribe in message.body
    # the HTML part escapes the copy, tracks the approved link and has the open pixel
    html = message.alternatives[0][0]
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>" not in html
    assert 'href="https://crm.example.com/marketing/t/c/' in html
    assert '<img src="https://crm.example.com/marketing/t/o/' in html


def test_unconsented_suppressed_and_withdrawn_contacts_get_nothing(
    make_campaign, marketer, colleague, campaign_policy, audience, django_capture_on_commit_callbacks
):
    # given: one contact on the suppression list before submission
    Suppression.objects.create(email=audience[0].email, reason="bounced")
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    assert req.final["audience_size"] == 9  # suppressed and unconsented contacts are not even planned
    # when: approved and executed, but before the batches run one contact unsubscribes and another is suppressed
    with django_capture_on_commit_callbacks(execute=False):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    with django_capture_on_commit_callbacks(execute=False) as batches:
        approval_execute(request_id=req.pk)
    contact_unsubscribe(contact=audience[1])
    Suppression.objects.create(email=audience[2].email.upper().lower(), reason="complaint")
    for run_batch in batches:
        run_batch()
    # then
    assert {m.to[0] for m in mail.outbox} == {c.email for c in audience[3:]}
    skipped = Send.objects.filter(campaign=campaign, status=Send.Status.SKIPPED)
    assert {s.contact_id: s.error for s in skipped} == {
        audience[1].pk: "No marketing consent at send time.",
        audience[2].pk: "On the suppression list.",
    }
    assert not to("noconsent@customer.example")


def test_a_message_a_dead_worker_was_handing_over_is_never_sent_again(
    make_campaign, marketer, colleague, campaign_policy, audience, django_capture_on_commit_callbacks, settings
):
    # given: an approved campaign whose batch was claimed by a worker that died mid-send 20 minutes ago
    settings.HITL_CRM_MARKETING_SEND_LEASE_SECONDS = 600
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with django_capture_on_commit_callbacks(execute=False):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    with django_capture_on_commit_callbacks(execute=False) as batches:
        approval_execute(request_id=req.pk)
    in_flight = Send.objects.filter(campaign=campaign).order_by("pk").first()
    Send.objects.filter(pk=in_flight.pk).update(
        status=Send.Status.SENDING, claim_token="dead", claimed_at=timezone.now() - timedelta(minutes=20)
    )
    # when: the redelivered batch runs
    for run_batch in batches:
        run_batch()
    # then: the in-flight message is set aside (it may have reached the server), everyone else gets one
    in_flight.refresh_from_db()
    assert in_flight.status == Send.Status.INTERRUPTED
    assert "not retried automatically" in in_flight.error
    assert not to(in_flight.contact.email)
    assert len(mail.outbox) == 9
    assert len({m.to[0] for m in mail.outbox}) == 9
    from hitl_crm.delivery.models import Delivery

    assert Delivery.objects.get(kind="campaign").state == Delivery.State.UNKNOWN  # for a person to decide


def test_the_handler_is_idempotent_per_execution_key(make_campaign, marketer, colleague, campaign_policy, on_commit):
    campaign = make_campaign(arms=1)
    req = approve(campaign_submit(campaign=campaign, actor=marketer), colleague, on_commit)
    req.refresh_from_db()
    campaign.refresh_from_db()
    # a second run with the same key (a crashed executor retried) does nothing more
    again = campaign_release_phase(
        campaign=campaign, payload=req.final, execution_key=req.execution_key, request_id=req.pk
    )
    assert again["duplicate"] is True
    assert len(mail.outbox) == 10
    # a different approval for the same phase is refused
    with pytest.raises(InvalidState, match="already approved"):
        campaign_release_phase(campaign=campaign, payload=req.final, execution_key="apr-other", request_id=0)


def test_copy_is_frozen_while_waiting_for_approval(make_campaign, marketer, campaign_policy):
    campaign = make_campaign(arms=1)
    campaign_submit(campaign=campaign, actor=marketer)
    variant = shortlisted(campaign)[0]
    with pytest.raises(InvalidState, match="waiting for approval"):
        variant_update(variant=variant, actor=marketer, data={"subject": "Sneaky edit"})


def test_a_rejection_hands_the_campaign_back_and_a_resubmission_replans(
    make_campaign, marketer, colleague, campaign_policy, on_commit
):
    campaign = make_campaign(arms=2)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=colleague,
            verdict="reject",
            reason="tone",
        )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.VARIANTS_APPROVED
    assert mail.outbox == []
    # the marketer may submit again; the plan is rebuilt, not duplicated
    again = campaign_submit(campaign=campaign, actor=marketer)
    assert again.pk != req.pk
    assert Send.objects.filter(campaign=campaign).count() == 10


def test_the_remainder_waits_for_a_confirmed_and_approved_winner(
    marketer, colleague, campaign_policy, everyone, on_commit, make_campaign
):
    # given: 80 reachable contacts and a test the calculator sizes at 19 per cell (30% → 75% opens)
    extra = [ContactFactory(email=f"more{i}@customer.example") for i in range(70)]
    campaign = make_campaign(arms=2, baseline_rate=0.3, min_detectable_effect=0.45, test_metric="open")
    req = campaign_submit(campaign=campaign, actor=marketer)
    split = req.final["split"]
    assert split["needed_per_arm"] == 19
    assert split["remainder"] > 0
    approve(req, colleague, on_commit)
    # then: only the test cells were emailed; the rest wait
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.TESTING
    assert len(mail.outbox) == sum(split["cells"].values())
    waiting = Send.objects.filter(campaign=campaign, phase="winner", status=Send.Status.PENDING)
    assert waiting.count() == split["remainder"] == 80 - len(mail.outbox)
    # when: B's recipients open more, and the marketer confirms B as the winner
    a, b = shortlisted(campaign)
    Send.objects.filter(campaign=campaign, variant=b).update(opened_at=timezone.now())
    winner_req = campaign_confirm_winner(campaign=campaign, actor=marketer, variant=b)
    # still nothing to the remainder until a colleague approves that too
    assert len(mail.outbox) == sum(split["cells"].values())
    assert winner_req.final["phase"] == "winner"
    assert winner_req.final["audience_size"] == split["remainder"]
    approve(winner_req, colleague, on_commit)
    # then: the remainder got B, everybody exactly once
    recipients = Counter(m.to[0] for m in mail.outbox)
    assert len(recipients) == 80
    assert set(recipients.values()) == {1}
    assert {c.email for c in extra} <= set(recipients)
    remainder = Send.objects.filter(campaign=campaign, phase="winner")
    assert set(remainder.values_list("variant", flat=True)) == {b.pk}
    assert set(remainder.values_list("status", flat=True)) == {Send.Status.SENT}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.winner_variant == b
    # and: the winning style feeds back into the next copy_variants run
    assert style_outcomes()["question"] == {"wins": 1, "trials": 1}
    assert style_outcomes()["benefit"] == {"wins": 0, "trials": 1}
    nxt = campaign_create(actor=marketer, name="Next", brief="Our new stove boils water in 90 seconds.")
    campaign_generate_variants(campaign=nxt, actor=marketer, n=5)
    weights = AiRun.objects.filter(skill="copy_variants").latest("pk").input_redacted["style_weights"]
    assert weights["question"] > weights["urgency"] > weights["benefit"]  # 2/3 > 1/2 (untested) > 1/3
    assert a.style == "benefit"


def test_a_scheduled_campaign_waits_for_its_time(make_campaign, marketer, colleague, campaign_policy, on_commit):
    later = timezone.now() + timedelta(hours=3)
    campaign = make_campaign(arms=1)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=later)
    approve(campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk), actor=marketer), colleague, on_commit)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert mail.outbox == []
    with on_commit():
        assert campaign_dispatch_due(now=timezone.now())["started"] == 0
    with on_commit():
        assert campaign_dispatch_due(now=later + timedelta(minutes=1))["started"] == 1
    assert len(mail.outbox) == 10


def test_cancelling_stops_everything_not_yet_sent(make_campaign, marketer, colleague, campaign_policy, on_commit):
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        campaign_cancel(campaign=campaign, actor=marketer)
    req.refresh_from_db()
    assert req.status == "cancelled"
    assert set(Send.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"cancelled"}
    assert mail.outbox == []
    assert Variant.objects.filter(campaign=campaign).count() == 1


def test_lost_dispatch_messages_are_requeued_by_the_scheduler(
    make_campaign, marketer, colleague, campaign_policy, django_capture_on_commit_callbacks, on_commit
):
    # given: an executed approval whose dispatch tasks never reached a worker (broker lost them)
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with django_capture_on_commit_callbacks(execute=False):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    with django_capture_on_commit_callbacks(execute=False):
        approval_execute(request_id=req.pk)  # its batch tasks are dropped
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert mail.outbox == []
    # when: the every-minute sweep runs
    with on_commit():
        report = campaign_dispatch_due()
    # then: the batches are enqueued again and everyone gets one email
    assert report["requeued"] == 1
    assert len(mail.outbox) == 10
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT


@pytest.mark.parametrize("decision", ["send_again", "mark_sent"])
def test_an_interrupted_message_goes_to_a_person_who_sends_it_again_or_marks_it_sent(
    make_campaign,
    marketer,
    colleague,
    campaign_policy,
    audience,
    django_capture_on_commit_callbacks,
    settings,
    decision,
):
    from hitl_crm.accounts.roles import MANAGER
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import delivery_mark_sent, delivery_send_again
    from tests.factories import UserFactory

    # given: a batch whose first message a dead worker was handing over
    settings.HITL_CRM_MARKETING_SEND_LEASE_SECONDS = 600
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with django_capture_on_commit_callbacks(execute=False):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    with django_capture_on_commit_callbacks(execute=False) as batches:
        approval_execute(request_id=req.pk)
    in_flight = Send.objects.filter(campaign=campaign).order_by("pk").first()
    Send.objects.filter(pk=in_flight.pk).update(
        status=Send.Status.SENDING, claim_token="dead", claimed_at=timezone.now() - timedelta(minutes=20)
    )
    for run_batch in batches:
        run_batch()
    # then: it is a "possibly sent" delivery for a person, with the message as it would have gone out
    delivery = Delivery.objects.get(state=Delivery.State.UNKNOWN)
    assert (delivery.kind, delivery.recipient) == ("campaign", in_flight.contact.email)
    assert delivery.content["headers"]["Message-ID"] == f"<mkt-{campaign.pk}-{in_flight.pk}@northwind.example>"
    assert not to(in_flight.contact.email)
    # when: a manager decides
    boss = UserFactory(username="boss", roles=[MANAGER])
    action = delivery_send_again if decision == "send_again" else delivery_mark_sent
    with django_capture_on_commit_callbacks(execute=True):
        action(delivery_id=delivery.pk, actor=boss)
    # then: exactly one email more (send again) or none (mark as sent), and the send counts as sent
    assert len(to(in_flight.contact.email)) == (1 if decision == "send_again" else 0)
    assert len(mail.outbox) == (10 if decision == "send_again" else 9)
    in_flight.refresh_from_db()
    assert in_flight.status == Send.Status.SENT

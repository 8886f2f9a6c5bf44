"""Marketing's write services: one way to refuse (PermissionDenied), one way to fail on state
(the kernel's InvalidState: 409 in the API, a message in the UI), and every campaign and segment
change in the audit trail."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import AuditEvent
from approvals.services import approval_decide
from hitl_crm.errors import InvalidState
from marketing.models import Campaign, Conversion, Send, Suppression, Variant
from marketing.services import (
    campaign_cancel,
    campaign_submit,
    campaign_update,
    conversion_record,
    segment_create,
    segment_delete,
    segment_update,
    suppression_add,
    variant_set_status,
)
from tests.marketing.conftest import shortlisted

pytestmark = pytest.mark.django_db
TRANSITION = "marketing.campaign_status_changed"


def transitions(campaign: Campaign) -> list[tuple[str, str]]:
    rows = AuditEvent.objects.filter(verb=TRANSITION, target_id=str(campaign.pk)).order_by("id")
    return [(e.data["before"]["status"], e.data["after"]["status"]) for e in rows]


def events(verb: str, target) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, target_id=str(target.pk)).order_by("id"))


# --- auditing ----------------------------------------------------------------------------------


def test_every_step_of_a_campaign_from_draft_to_sent_is_audited(
    make_campaign, marketer, colleague, campaign_policy, on_commit
):
    # given: a campaign built and locked by the marketer (one variant: no remainder waits)
    campaign = make_campaign(arms=1)
    # when: submitted, approved by a colleague, sent (tasks are eager)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    # then
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert transitions(campaign) == [
        ("", "draft"),
        ("draft", "variants_approved"),
        ("variants_approved", "in_review"),
        ("in_review", "sending"),
        ("sending", "sent"),
    ]
    rows = list(AuditEvent.objects.filter(verb=TRANSITION, target_id=str(campaign.pk)).order_by("id"))
    assert [e.actor for e in rows[:3]] == [marketer, marketer, marketer]
    assert rows[2].data["approval_request"] == req.pk
    assert rows[3].actor_type == AuditEvent.ActorType.SYSTEM  # the executor, for the approval it names
    assert rows[3].data["approval_request"] == req.pk


def test_a_rejected_campaign_goes_back_to_the_marketer_audited_as_the_system(
    make_campaign, marketer, colleague, campaign_policy, on_commit
):
    campaign = make_campaign(arms=2)
    req = campaign_submit(campaign=campaign, actor=marketer)

    with on_commit():
        approval_decide(
            request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="reject", reason="tone"
        )

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.VARIANTS_APPROVED
    last = events(TRANSITION, campaign)[-1]
    assert (last.data["before"], last.data["after"]) == ({"status": "in_review"}, {"status": "variants_approved"})
    assert last.actor_type == AuditEvent.ActorType.SYSTEM
    assert last.data["outcome"] == "rejected"


def test_cancelling_is_audited_with_who_and_why(make_campaign, marketer, campaign_policy):
    campaign = make_campaign(arms=1)
    campaign_submit(campaign=campaign, actor=marketer)

    campaign_cancel(campaign=campaign, actor=marketer, reason="Wrong season")

    last = events(TRANSITION, campaign)[-1]
    assert last.actor == marketer
    assert (last.data["before"], last.data["after"]) == ({"status": "in_review"}, {"status": "cancelled"})
    assert last.data["reason"] == "Wrong season"
    assert last.data["sends_cancelled"] == 10


def test_shortlist_changes_are_audited(make_campaign, marketer):
    campaign = make_campaign(arms=2, lock=False)
    variant = shortlisted(campaign)[0]

    variant_set_status(variant=variant, actor=marketer, status=Variant.Status.REJECTED)

    (event,) = events("marketing.variant_status_changed", variant)
    assert event.actor == marketer
    assert (event.data["before"], event.data["after"]) == ({"status": "approved"}, {"status": "rejected"})


def test_segment_changes_are_audited_with_before_and_after(marketer, manager):
    # given
    rules = [{"field": "account.tier", "op": "eq", "value": "premium"}]
    segment = segment_create(actor=marketer, name="Premium", rules=rules)
    # when
    segment_update(segment=segment, actor=marketer, data={"name": "Premium buyers", "description": ""})
    segment_delete(segment=segment, actor=manager)
    # then
    created, updated = events("marketing.segment_created", segment) + events("marketing.segment_updated", segment)
    (deleted,) = events("marketing.segment_deleted", segment)
    assert created.actor == marketer
    assert created.data["after"]["rules"][0]["value"] == "premium"
    assert (updated.data["before"], updated.data["after"]) == ({"name": "Premium"}, {"name": "Premium buyers"})
    assert deleted.actor == manager
    assert deleted.data["before"]["name"] == "Premium buyers"


def test_an_unsubscribe_puts_the_address_on_the_suppression_list_audited_as_the_system(
    make_campaign, marketer, colleague, campaign_policy, on_commit, client
):
    from marketing import tokens

    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    send = Send.objects.filter(campaign=campaign, status=Send.Status.SENT).select_related("contact").first()

    response = client.post(reverse("marketing:unsubscribe", args=[tokens.make_token(tokens.UNSUBSCRIBE, send.pk)]))

    assert response.status_code == 200
    suppression = Suppression.objects.get(email=send.contact.email.lower())
    (event,) = events("marketing.suppression_added", suppression)
    assert event.actor_type == AuditEvent.ActorType.SYSTEM
    assert event.data["after"]["reason"] == Suppression.Reason.UNSUBSCRIBED


# --- refusing ----------------------------------------------------------------------------------


def test_adding_a_suppression_needs_a_person_with_the_permission(marketer, sales_rep):
    with pytest.raises(PermissionDenied):
        suppression_add(email="someone@customer.example", actor=None)
    with pytest.raises(PermissionDenied):
        suppression_add(email="someone@customer.example", actor=sales_rep)
    assert not Suppression.objects.exists()

    suppression_add(email="Someone@Customer.example", actor=marketer)

    assert Suppression.objects.get().email == "someone@customer.example"


def test_crediting_a_conversion_needs_the_permission(make_campaign, audience, marketer, manager):
    campaign = make_campaign(arms=1, lock=False)
    send = Send.objects.create(
        campaign=campaign, contact=audience[0], bucket=0.5, status=Send.Status.SENT, sent_at=timezone.now()
    )

    with pytest.raises(PermissionDenied):
        conversion_record(send=send, actor=marketer, occurred_at=timezone.now(), external_id="o-1")
    conversion_record(send=send, actor=manager, occurred_at=timezone.now(), external_id="o-1")

    assert Conversion.objects.filter(send=send).count() == 1


# --- failing on state --------------------------------------------------------------------------


def test_a_state_conflict_is_the_kernels_invalid_state(make_campaign, marketer):
    campaign = make_campaign(arms=1)  # locked: the brief cannot change

    with pytest.raises(InvalidState, match="cannot change the brief"):
        campaign_update(campaign=campaign, actor=marketer, data={"brief": "changed"})


def test_submitting_twice_answers_409_in_the_api(make_campaign, marketer, campaign_policy):
    campaign = make_campaign(arms=1)
    api = APIClient()
    api.force_authenticate(marketer)

    first = api.post(f"/api/v1/campaigns/{campaign.pk}/submit/")
    second = api.post(f"/api/v1/campaigns/{campaign.pk}/submit/")

    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["detail"] == "This campaign is waiting for approval, so you cannot submit it for approval now."


def test_a_state_conflict_in_the_ui_is_a_message_not_an_error_page(client, make_campaign, marketer):
    campaign = make_campaign(arms=1, lock=False)  # a draft: there is nothing to unlock
    client.force_login(marketer)

    response = client.post(reverse("marketing:campaign_unlock", args=[campaign.pk]))

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This campaign is draft, so you cannot go back to editing now."
    ]

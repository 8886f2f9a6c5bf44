"""Agents' corrections of triage are training data: the next trained model uses them."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from hitl_crm.ai.models import IntentExample
from hitl_crm.ai.services import intent_example_add, intent_model_train
from service.models import Case, TriageCorrection
from service.routing import SEND_REPLY
from service.services import case_triage_correct
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

WRONG_HOUSE = [
    "The courier left my parcel at the wrong house and the neighbours say they never got it.",
    "My package was delivered to a different house on my street, not to me.",
    "Delivery photo shows my parcel at someone else's front door, wrong house number.",
    "The driver dropped my box at the wrong address, at the house next door.",
]
OTHER = {
    "track_order": [
        "Where is my order? Tracking has not changed.",
        "My parcel has not arrived yet, any news?",
        "Can you track my package please?",
        "Still waiting for my delivery, is it late?",
        "What is the delivery status of my order?",
    ],
    "product_question": [
        "What size jacket should I take?",
        "Is the tent available in green?",
        "Does this sleeping bag fit a tall person?",
        "Is the stove compatible with gas canisters?",
        "How does the water filter work?",
    ],
}


def test_corrected_intents_are_used_the_next_time_triage_trains(desk, receive, support_agent):
    # given: cases about parcels left at the wrong house, which the rules cannot name
    cases = [receive(ContactFactory().email, "Delivery problem", text).case for text in WRONG_HOUSE[:3]]
    assert {Case.objects.get(pk=c.pk).intent for c in cases} != {"wrong_house_delivery"}
    for intent, texts in OTHER.items():
        for text in texts:
            intent_example_add(text=text, intent=intent)

    # when: an agent corrects each case, and triage trains
    for case in cases:
        case_triage_correct(case=case, actor=support_agent, intent="wrong_house_delivery")
    model = intent_model_train()

    # then: the corrections were kept as training data …
    corrections = IntentExample.objects.filter(source="correction", intent="wrong_house_delivery")
    assert corrections.count() == 3
    assert TriageCorrection.objects.filter(field="intent", after="wrong_house_delivery").count() == 3
    assert model.metrics["intents"]["wrong_house_delivery"] == 3
    # … and the next similar message is triaged with the learned label
    fresh = receive(ContactFactory().email, "Delivery problem", WRONG_HOUSE[3]).case
    fresh = Case.objects.get(pk=fresh.pk)
    assert fresh.intent == "wrong_house_delivery"
    run = ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(fresh.pk)).context
    assert run["category"] == "wrong_house_delivery"


def test_marking_a_customer_upset_sends_the_pending_draft_to_a_manager(desk, customer, receive, support_agent, manager):
    # given: a routine-looking draft waiting for an agent
    case = receive(
        customer.email,
        "Which jacket size?",
        "I'm usually a medium but wear the insulated jacket over a t-shirt. Small or medium?",
    ).case
    before = ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")
    assert before.policy.name == "Service replies: routine"

    # when: the agent, who knows the customer, marks them upset
    case_triage_correct(case=case, actor=support_agent, sentiment=-0.8)

    # then: the same draft is routed again, to managers, and the correction is on record
    before.refresh_from_db()
    after = ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")
    assert before.status == "cancelled"
    assert after.proposal == before.proposal
    assert after.policy.name == "Service replies: upset customer"
    assert TriageCorrection.objects.get(case=case).after == "-0.80"
    case.refresh_from_db()
    assert case.sentiment == -0.8
    assert case.sentiment_source == Case.Source.HUMAN


def test_only_people_who_may_change_cases_can_correct(desk, customer, receive, sales_rep):
    from django.core.exceptions import PermissionDenied

    case = receive(customer.email, "Which jacket size?", "Small or medium?").case

    with pytest.raises(PermissionDenied, match="You may not change cases"):
        case_triage_correct(case=case, actor=sales_rep, intent="complaint")
    assert not IntentExample.objects.exists()

"""The approval action ``leads.send_followup``: the only code in leads that sends mail (through
the delivery kernel, ``hitl_crm.delivery``).

Only the approvals executor calls :func:`send_followup`, with the payload a person approved
(their edits included), after it has checked the payload hash, the approvals and the lead's
version (``Lead.approval_version``: address, name, owner, status, opt-out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.mail import EmailMessage
from rest_framework import serializers

from approvals.execution import StagedHandler
from approvals.registry import Action
from hitl_crm.delivery.channels import email_content, message_id_for
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import Outbound
from leads.followups import SEND_FOLLOWUP, followup_blocker

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest
    from leads.models import Lead


class FollowupSerializer(serializers.Serializer):
    """A follow-up email to one lead, at the lead's own address."""

    to = serializers.EmailField(max_length=254)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10_000, trim_whitespace=False)
    lead_id = serializers.IntegerField(min_value=1)

    def validate_subject(self, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise serializers.ValidationError("Keep the subject on one line.")
        return value

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from leads.models import Lead

        lead = self.context.get("subject")
        if not isinstance(lead, Lead):
            raise serializers.ValidationError("This action sends a follow-up to a lead only.")
        if attrs["lead_id"] != lead.pk:
            raise serializers.ValidationError({"lead_id": "Must be the lead this request is about."})
        address = lead.email_address
        if not address or attrs["to"].strip().lower() != address.strip().lower():
            raise serializers.ValidationError({"to": "Must be the lead's own email address."})
        blocker = followup_blocker(lead)
        if blocker:
            raise serializers.ValidationError({"to": blocker})
        return attrs


class FollowupRefused(Exception):
    """The lead may no longer be emailed; nothing was sent (permanent)."""


def _prepare_followup(req: ApprovalRequest, payload: dict[str, Any]) -> Outbound:
    """The approved follow-up, exactly as it will be sent, unless the lead may no longer be emailed."""
    # The executor loaded the subject (the lead) and set the execution key when the request was approved.
    lead = cast("Lead", req.subject)
    blocker = followup_blocker(lead)
    if blocker:
        raise FollowupRefused(f"Not sent: {blocker}")
    headers = {
        "Message-ID": message_id_for(cast(str, req.execution_key), settings.DEFAULT_FROM_EMAIL),
        "X-HITL-Approval": str(req.pk),
    }
    reply_to = [lead.owner.email] if lead.owner_id and lead.owner and lead.owner.email else None
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[payload["to"]],
        headers=headers,
        reply_to=reply_to,
    )
    return Outbound(
        channel=Delivery.Channel.EMAIL,
        kind=Delivery.Kind.FOLLOWUP,
        content=email_content(message),
        recipient=payload["to"],
        summary=payload["subject"],
    )


def _complete_followup(req: ApprovalRequest, payload: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    """Log the sent follow-up on the lead's timeline and its contact's, once per execution key."""
    from hitl_crm.contacts.models import Activity
    from hitl_crm.contacts.services import activity_record
    from leads.models import LeadEvent

    lead = cast("Lead", req.subject)  # the action's subject model, loaded by the executor
    key = req.execution_key
    message_id = delivery.content["headers"]["Message-ID"]
    result = {"message_id": message_id, "execution_key": key, "to": payload["to"]}
    previous = LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT, data__execution_key=key).first()
    if previous is not None:
        return {**result, "event": previous.pk, "duplicate": True}
    data = {"subject": payload["subject"], "approval_request": req.pk, "execution_key": key, "message_id": message_id}
    event = LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT, data=data, source="approvals")
    activity_id = None
    if lead.contact_id and lead.contact is not None:
        activity_id = activity_record(
            contact=lead.contact,
            kind=Activity.Kind.EMAIL_OUT,
            summary=f"Follow-up sent: {payload['subject']}",
            data=data,
            source="leads",
        ).pk
    return {**result, "event": event.pk, "activity": activity_id, "delivery": delivery.pk}


# Send the approved follow-up through the delivery kernel: prepared under the executor's locks (the
# opt-out check included), sent with no lock held, logged under the locks again. Idempotent per
# execution key (the Delivery's key and the Message-ID); an unknown outcome goes to a person.
send_followup = StagedHandler(prepare=_prepare_followup, complete=_complete_followup)


SEND_FOLLOWUP_ACTION = Action(
    key=SEND_FOLLOWUP,
    label="Send lead follow-up",
    serializer=FollowupSerializer,
    handler=send_followup,
    editable_fields=("subject", "body"),
    template="leads/approvals/followup.html",
    description="An email to a lead, drafted by the AI (or the rep) from the lead's history.",
)

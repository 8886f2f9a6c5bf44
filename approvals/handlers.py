"""Built-in approval actions. Their mail goes through the delivery kernel (``hitl_crm.delivery``).

``approvals.notify_email`` sends a plain email to a contact, so the gate is usable before
any feature app registers its own actions.
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

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest

NOTIFY_EMAIL = "approvals.notify_email"


class NotifyEmailSerializer(serializers.Serializer):
    """A plain email to the subject contact, to that contact's address only."""

    to = serializers.EmailField(max_length=254)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10_000, trim_whitespace=False)

    def validate_subject(self, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise serializers.ValidationError("Keep the subject on one line.")
        return value

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from hitl_crm.contacts.models import Contact

        contact = self.context.get("subject")
        if not isinstance(contact, Contact):
            raise serializers.ValidationError("This action sends email to a contact only.")
        if not contact.email or attrs["to"].strip().lower() != contact.email.strip().lower():
            raise serializers.ValidationError({"to": "Must be the contact's own email address."})
        return attrs


def _prepare_notify_email(req: ApprovalRequest, payload: dict[str, Any]) -> Outbound:
    """The approved email, exactly as it will be sent; its Message-ID is the execution key."""
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[payload["to"]],
        headers={
            # the key is set when the request was approved, before anything executes
            "Message-ID": message_id_for(cast(str, req.execution_key), settings.DEFAULT_FROM_EMAIL),
            "X-HITL-Approval": str(req.pk),
        },
    )
    return Outbound(
        channel=Delivery.Channel.EMAIL,
        kind=Delivery.Kind.EMAIL,
        content=email_content(message),
        recipient=payload["to"],
        summary=payload["subject"],
    )


def _complete_notify_email(req: ApprovalRequest, payload: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    """Note the sent email on the contact's timeline, once per execution key."""
    from hitl_crm.contacts.models import Activity, Contact
    from hitl_crm.contacts.services import activity_record

    contact = cast(Contact, req.subject)  # the action's subject model; the caller checked it still exists
    message_id = delivery.content["headers"]["Message-ID"]
    result = {"message_id": message_id, "execution_key": req.execution_key, "to": payload["to"]}
    previous = Activity.objects.filter(
        contact=contact, kind=Activity.Kind.EMAIL_OUT, data__execution_key=req.execution_key
    ).first()
    if previous is not None:
        return {**result, "activity": previous.pk, "duplicate": True}
    activity = activity_record(
        contact=contact,
        kind=Activity.Kind.EMAIL_OUT,
        summary=f"Email sent: {payload['subject']}",
        data={"approval_request": req.pk, "execution_key": req.execution_key, "message_id": message_id},
        source="approvals",
    )
    return {**result, "activity": activity.pk, "delivery": delivery.pk}


# Sent through the delivery kernel: prepared under the executor's locks, sent with none held,
# recorded under the locks again. Idempotent per execution key (the Delivery's unique key and the
# Message-ID), and a message whose outcome is unknown goes to a person, never out again by itself.
notify_email = StagedHandler(prepare=_prepare_notify_email, complete=_complete_notify_email)


NOTIFY_EMAIL_ACTION = Action(
    key=NOTIFY_EMAIL,
    label="Email a contact",
    serializer=NotifyEmailSerializer,
    handler=notify_email,
    editable_fields=("subject", "body"),
    template="approvals/actions/notify_email.html",
    description="Send a plain email to one contact, at that contact's own address.",
)

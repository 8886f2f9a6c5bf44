"""The approval action ``leads.send_followup``: the only code in leads that sends mail.

Only the approvals executor calls :func:`send_followup`, with the payload a person approved
(their edits included), after it has checked the payload hash, the approvals and the lead's
version (``Lead.approval_version``: address, name, owner, status, opt-out).
"""

from __future__ import annotations

import smtplib
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from rest_framework import serializers

from approvals.exceptions import TransientError
from approvals.registry import Action
from leads.followups import SEND_FOLLOWUP, followup_blocker

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest


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


def _message_id(execution_key: str) -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "hitl-crm.invalid"
    return f"<{execution_key}@{domain}>"


def send_followup(req: ApprovalRequest, payload: dict[str, Any]) -> dict[str, Any]:
    """Send the approved follow-up; log it on the lead's timeline and its contact's.

    Idempotent per execution key: the key is the Message-ID (receiving systems drop
    duplicates) and an ``email_sent`` event carrying it means the message already went out.
    """
    from hitl_crm.contacts.models import Activity
    from hitl_crm.contacts.services import activity_record
    from leads.models import LeadEvent

    lead = req.subject
    key = req.execution_key
    message_id = _message_id(key)
    previous = LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT, data__execution_key=key).first()
    if previous is not None:
        return {
            "message_id": message_id,
            "execution_key": key,
            "to": payload["to"],
            "event": previous.pk,
            "duplicate": True,
        }
    blocker = followup_blocker(lead)
    if blocker:
        raise FollowupRefused(f"Not sent: {blocker}")
    headers = {"Message-ID": message_id, "X-HITL-Approval": str(req.pk)}
    reply_to = [lead.owner.email] if lead.owner_id and lead.owner and lead.owner.email else None
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[payload["to"]],
        headers=headers,
        reply_to=reply_to,
    )
    try:
        sent = get_connection().send_messages([message])
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError) as exc:
        raise TransientError(f"Mail server unavailable: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TransientError(f"Mail server deferred the message: {exc.smtp_code} {exc.smtp_error!r}") from exc
        raise
    if not sent:
        raise TransientError("The mail backend did not accept the message.")
    data = {"subject": payload["subject"], "approval_request": req.pk, "execution_key": key, "message_id": message_id}
    event = LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.EMAIL_SENT, data=data, source="approvals")
    activity_id = None
    if lead.contact_id:
        activity_id = activity_record(
            contact=lead.contact,
            kind=Activity.Kind.EMAIL_OUT,
            summary=f"Follow-up sent: {payload['subject']}",
            data=data,
            source="leads",
        ).pk
    return {
        "message_id": message_id,
        "execution_key": key,
        "to": payload["to"],
        "event": event.pk,
        "activity": activity_id,
    }


SEND_FOLLOWUP_ACTION = Action(
    key=SEND_FOLLOWUP,
    label="Send lead follow-up",
    serializer=FollowupSerializer,
    handler=send_followup,
    editable_fields=("subject", "body"),
    template="leads/approvals/followup.html",
    description="An email to a lead, drafted by the AI (or the rep) from the lead's history.",
)

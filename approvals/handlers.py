"""Built-in approval actions. Only handlers (and reviewer notifications) send mail.

``approvals.notify_email`` sends a plain email to a contact, so the gate is usable before
any feature app registers its own actions.
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


def _message_id(execution_key: str) -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "hitl-crm.invalid"
    return f"<{execution_key}@{domain}>"


def notify_email(req: ApprovalRequest, payload: dict[str, Any]) -> dict[str, Any]:
    """Send the approved email and note it on the contact's timeline.

    Idempotent per execution key: the key is the Message-ID (receiving systems and ESPs
    drop duplicates) and a timeline entry carrying it means the message already went out.
    """
    from hitl_crm.contacts.models import Activity
    from hitl_crm.contacts.services import activity_record

    contact = req.subject
    message_id = _message_id(req.execution_key)
    previous = Activity.objects.filter(
        contact=contact, kind=Activity.Kind.EMAIL_OUT, data__execution_key=req.execution_key
    ).first()
    if previous is not None:
        return {
            "message_id": message_id,
            "execution_key": req.execution_key,
            "to": payload["to"],
            "activity": previous.pk,
            "duplicate": True,
        }
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[payload["to"]],
        headers={"Message-ID": message_id, "X-HITL-Approval": str(req.pk)},
    )
    try:
        sent = get_connection().send_messages([message])
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError) as exc:
        raise TransientError(f"Mail server unavailable: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:  # 4xx: try again later
            raise TransientError(f"Mail server deferred the message: {exc.smtp_code} {exc.smtp_error!r}") from exc
        raise
    if not sent:
        raise TransientError("The mail backend did not accept the message.")
    activity = activity_record(
        contact=contact,
        kind=Activity.Kind.EMAIL_OUT,
        summary=f"Email sent: {payload['subject']}",
        data={"approval_request": req.pk, "execution_key": req.execution_key, "message_id": message_id},
        source="approvals",
    )
    return {"message_id": message_id, "execution_key": req.execution_key, "to": payload["to"], "activity": activity.pk}


NOTIFY_EMAIL_ACTION = Action(
    key=NOTIFY_EMAIL,
    label="Email a contact",
    serializer=NotifyEmailSerializer,
    handler=notify_email,
    editable_fields=("subject", "body"),
    template="approvals/actions/notify_email.html",
    description="Send a plain email to one contact, at that contact's own address.",
)

"""The service desk's approval actions. Only the approvals executor calls these handlers, and only
they deliver anything to a customer, through the delivery kernel (``hitl_crm.delivery``): the approved
reply by email, the approved refund through the payment gateway. Each is idempotent per
``request.execution_key``, and none holds a lock or an open transaction while the effect happens.
"""

from __future__ import annotations

import re
from decimal import Decimal
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, cast

from django.core.mail import EmailMessage
from django.db.models import F
from django.utils import timezone
from rest_framework import serializers

from approvals.execution import StagedHandler
from approvals.registry import Action
from hitl_crm.delivery.channels import email_content
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import Outbound
from service.gateways import REFUND_TRANSMITTER
from service.redrafts import redraft_reply
from service.routing import ISSUE_REFUND, SEND_REPLY

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from approvals.models import ApprovalRequest
    from service.models import Case, RefundRequest

_MESSAGE_ID = re.compile(r"^<[^<>\s]+>$")
MAX_REFUND = Decimal("1000000")


class SendReplySerializer(serializers.Serializer):
    """A reply to the case's customer, at that customer's own address, threaded into their conversation."""

    to = serializers.EmailField(max_length=254)
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=20_000, trim_whitespace=False)
    in_reply_to = serializers.CharField(max_length=255, allow_blank=True)
    references = serializers.CharField(max_length=6000, allow_blank=True)
    case_id = serializers.IntegerField(min_value=1)

    def validate_subject(self, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise serializers.ValidationError("Keep the subject on one line.")
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_body(self, value: str) -> str:
        if len(value.strip()) < 2:
            raise serializers.ValidationError("Write the reply.")
        return value.replace("\r\n", "\n")

    def validate_in_reply_to(self, value: str) -> str:
        if value and not _MESSAGE_ID.match(value):
            raise serializers.ValidationError("Must be one Message-ID in angle brackets.")
        return value

    def validate_references(self, value: str) -> str:
        if any(not _MESSAGE_ID.match(part) for part in value.split()):
            raise serializers.ValidationError("Must be Message-IDs in angle brackets, separated by spaces.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from service.models import Case, Message

        case = self.context.get("subject")
        if not isinstance(case, Case) or case.pk != attrs["case_id"]:
            raise serializers.ValidationError({"case_id": "The reply must be about this case."})
        if not case.contact.email or attrs["to"].strip().lower() != case.contact.email.strip().lower():
            raise serializers.ValidationError({"to": "Must be the customer's own email address."})
        if attrs["in_reply_to"] and not Message.objects.filter(case=case, message_id=attrs["in_reply_to"]).exists():
            raise serializers.ValidationError({"in_reply_to": "Must be a message of this case."})
        return attrs


class IssueRefundSerializer(serializers.Serializer):
    """A refund of at most what the customer asked for, in the refund request's currency."""

    refund_request_id = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_REFUND)
    currency = serializers.RegexField(r"^[A-Z]{3}$", error_messages={"invalid": "A three-letter ISO code, e.g. USD."})
    order_ref = serializers.CharField(max_length=64, allow_blank=True)
    reason = serializers.CharField(max_length=2000, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from service.models import RefundRequest

        refund = self.context.get("subject")
        if not isinstance(refund, RefundRequest) or refund.pk != attrs["refund_request_id"]:
            raise serializers.ValidationError({"refund_request_id": "Must be this refund request."})
        if attrs["currency"] != refund.currency:
            raise serializers.ValidationError({"currency": f"Must be {refund.currency}, the currency asked for."})
        if attrs["order_ref"] != refund.order_ref:
            raise serializers.ValidationError({"order_ref": "Must be the refund request's order."})
        if attrs["amount"] > refund.amount:
            raise serializers.ValidationError(
                {"amount": f"At most {refund.amount} {refund.currency}, the amount asked for."}
            )
        return attrs


def _domain() -> str:
    from service.conf import app_settings

    return parseaddr(app_settings.FROM_EMAIL)[1].rpartition("@")[2] or "hitl-crm.invalid"


def reply_message_id(execution_key: str) -> str:
    """Our Message-ID for an approved reply: fixed per approval, so a retried send is recognisably the same."""
    return f"<{execution_key}@{_domain()}>"


def _approver(req: ApprovalRequest) -> User | None:
    from approvals.models import Decision

    decision = (
        req.decisions.filter(verdict__in=Decision.APPROVING, reviewer__isnull=False, payload_hash=req.payload_hash)
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )
    return decision.reviewer if decision else None


def _references(payload: dict[str, Any]) -> str:
    return " ".join(dict.fromkeys([*payload["references"].split(), *filter(None, [payload["in_reply_to"]])]))


def _prepare_reply(req: ApprovalRequest, payload: dict[str, Any]) -> Outbound:
    """The approved reply, threaded (Message-ID from the execution key, In-Reply-To, References)."""
    from service.conf import app_settings

    references = _references(payload)
    # The executor set the execution key when the request was approved and loaded the subject (the case).
    headers = {"Message-ID": reply_message_id(cast(str, req.execution_key)), "X-HITL-Approval": str(req.pk)}
    headers["X-HITL-Case"] = str(cast("Case", req.subject).pk)
    if payload["in_reply_to"]:
        headers["In-Reply-To"] = payload["in_reply_to"]
    if references:
        headers["References"] = references
    email = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=app_settings.FROM_EMAIL,
        to=[payload["to"]],
        headers=headers,
    )
    return Outbound(
        channel=Delivery.Channel.EMAIL,
        kind=Delivery.Kind.REPLY,
        content=email_content(email),
        recipient=payload["to"],
        summary=payload["subject"],
    )


def _complete_reply(req: ApprovalRequest, payload: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    """Record the sent reply on the case and an activity on the customer's timeline, once per key."""
    from hitl_crm.contacts.models import Activity
    from hitl_crm.contacts.services import activity_record
    from service.conf import app_settings
    from service.models import Case, Message
    from service.tasks import case_summary_refresh_task

    case = cast(Case, req.subject)  # loaded by the executor, which also set the execution key
    message_id = reply_message_id(cast(str, req.execution_key))
    previous = Message.objects.filter(execution_key=req.execution_key).first()
    if previous is not None:
        return {"message_id": message_id, "to": payload["to"], "message": previous.pk, "duplicate": True}
    references = _references(payload)
    now = delivery.sent_at or timezone.now()
    approver = _approver(req)
    parent = (
        Message.objects.filter(case=case, message_id=payload["in_reply_to"]).first() if payload["in_reply_to"] else None
    )
    outbound = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        sender=parseaddr(app_settings.FROM_EMAIL)[1],
        sender_name=parseaddr(app_settings.FROM_EMAIL)[0],
        to=payload["to"],
        subject=payload["subject"],
        body=payload["body"],
        occurred_at=now,
        sent_at=now,
        message_id=message_id,
        in_reply_to=payload["in_reply_to"],
        references=references,
        reply_to=parent,
        author=approver or req.requested_by,
        approval_request_id=req.pk,
        execution_key=req.execution_key,
        processed_at=now,
        pipeline_note="sent reply",
    )
    Case.objects.filter(pk=case.pk).update(
        thread_version=F("thread_version") + 1,
        last_message_at=now,
        waiting_since=None,
        needs_human=False,
        needs_human_reason="",
        first_response_at=case.first_response_at or now,
        status=Case.Status.PENDING_CUSTOMER if case.status == Case.Status.OPEN else case.status,
        updated_at=now,
    )
    who = approver.get_full_name() or approver.get_username() if approver else "autopilot"
    activity = activity_record(
        contact=case.contact,
        kind=Activity.Kind.EMAIL_OUT,
        summary=f"Reply sent: {payload['subject']}",
        data={
            "case": case.pk,
            "message": outbound.pk,
            "approval_request": req.pk,
            "message_id": message_id,
            "execution_key": req.execution_key,
            "approved_by": who,
        },
        source="service",
        occurred_at=now,
        actor=approver,
    )
    case_summary_refresh_task.delay_on_commit(case.pk)
    return {
        "message_id": message_id,
        "to": payload["to"],
        "message": outbound.pk,
        "activity": activity.pk,
        "delivery": delivery.pk,
    }


# Email the approved reply through the delivery kernel: prepared under the executor's locks, sent
# with none held, recorded (outbound message, case, timeline) under the locks again. Idempotent per
# execution key: the Delivery and the outbound message carry it, and the Message-ID derives from it.
send_reply = StagedHandler(prepare=_prepare_reply, complete=_complete_reply)


def _prepare_refund(req: ApprovalRequest, payload: dict[str, Any]) -> Outbound:
    """The approved refund's terms; the gateway gets the execution key as its idempotency key."""
    from service.refunds import money

    refund = cast("RefundRequest", req.subject)  # the action's subject model, loaded by the executor
    amount = Decimal(str(payload["amount"]))
    return Outbound(
        channel=Delivery.Channel.PAYMENT,
        kind=Delivery.Kind.REFUND,
        content={
            "amount": str(amount),
            "currency": payload["currency"],
            "order_ref": payload["order_ref"],
            "metadata": {
                "refund_request": str(refund.pk),
                "case": str(refund.case_id),
                "approval_request": str(req.pk),
            },
        },
        recipient=payload["order_ref"] or f"refund request {refund.pk}",
        summary=f"Refund {money(amount, payload['currency'])}",
        transmitter=REFUND_TRANSMITTER,
    )


def _complete_refund(req: ApprovalRequest, payload: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    """Record the paid refund on the refund request and the customer's timeline, once per key."""
    from hitl_crm.contacts.models import Activity
    from hitl_crm.contacts.services import activity_record
    from service.models import RefundRequest
    from service.refunds import money

    refund = cast(RefundRequest, req.subject)  # the action's subject model, loaded by the executor
    paid = delivery.result or {}
    amount = Decimal(str(paid.get("amount") or payload["amount"]))
    currency = paid.get("currency") or payload["currency"]
    reference = paid.get("reference") or paid.get("marked_sent_by", "")
    result = {
        "reference": reference,
        "amount": str(amount),
        "currency": currency,
        "idempotency_key": req.execution_key,
        "duplicate": bool(paid.get("duplicate")),
        "delivery": delivery.pk,
    }
    previous = Activity.objects.filter(
        contact=refund.case.contact, kind=Activity.Kind.CASE, data__execution_key=req.execution_key
    ).first()
    if previous is not None:
        return {**result, "activity": previous.pk, "duplicate": True}
    now = delivery.sent_at or timezone.now()
    RefundRequest.objects.filter(pk=refund.pk).update(
        status=RefundRequest.Status.ISSUED,
        amount_issued=amount,
        gateway_reference=reference,
        issued_at=refund.issued_at or now,
        updated_at=now,
    )
    approver = _approver(req)
    order = f" for order {payload['order_ref']}" if payload["order_ref"] else ""
    activity = activity_record(
        contact=refund.case.contact,
        kind=Activity.Kind.CASE,
        summary=f"Refund issued: {money(amount, currency)}{order}",
        data={
            "case": refund.case_id,
            "refund": refund.pk,
            "approval_request": req.pk,
            "reference": reference,
            "execution_key": req.execution_key,
        },
        source="service",
        occurred_at=now,
        actor=approver,
    )
    return {**result, "activity": activity.pk}


# Pay the approved refund through the configured gateway (service.gateways), keyed by the execution
# key, with no lock held and no transaction open while the gateway works; a retry pays nothing new,
# and an unknown outcome (the worker died mid-call) goes to a person.
issue_refund = StagedHandler(prepare=_prepare_refund, complete=_complete_refund)


SEND_REPLY_ACTION = Action(
    key=SEND_REPLY,
    label="Send reply to customer",
    serializer=SendReplySerializer,
    handler=send_reply,
    editable_fields=("subject", "body"),
    template="service/approvals/send_reply.html",
    redraft=redraft_reply,
    description="Email a reply to the customer of a support case, threaded into their conversation.",
)
ISSUE_REFUND_ACTION = Action(
    key=ISSUE_REFUND,
    label="Issue refund",
    serializer=IssueRefundSerializer,
    handler=issue_refund,
    editable_fields=("amount",),
    template="service/approvals/issue_refund.html",
    amount_field="amount",
    currency_field="currency",
    material_fields=("amount",),
    description="Pay a refund to a customer through the payment gateway.",
)

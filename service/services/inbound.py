"""Customer mail coming in, and the entry to the AI pipeline it starts.

These are system entry points: inbound mail (the ``/api/v1/inbound/`` endpoint, whose caller
needs ``service.add_message``, and the ``ingest_mail`` command) and the pipeline tasks act as the
system, so they take no actor. A case reopened by a new customer message is audited as the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from approvals.audit import audit_record
from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.contacts.services import activity_record, contact_create
from service.inbound import InboundMail, normalise_subject
from service.models import Case, Message


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # "created" | "threaded" | "duplicate"
    message: Message
    case: Case

    @property
    def created(self) -> bool:
        return self.outcome == "created"


def _contact_for(mail: InboundMail, *, source: str) -> Contact:
    """The sender's contact; an unknown sender becomes a new contact."""
    contact = Contact.objects.filter(email__iexact=mail.sender).select_related("account").first()
    if contact is not None:
        return contact
    first, _, last = mail.sender_name.partition(" ")
    try:
        with transaction.atomic():
            return contact_create(email=mail.sender, first_name=first[:100], last_name=last[:100], source=source)
    except (IntegrityError, ValidationError):
        # a concurrent message from the same new sender created it first
        found = Contact.objects.filter(email__iexact=mail.sender).select_related("account").first()
        if found is None:
            raise
        return found


def _case_for(contact: Contact, mail: InboundMail) -> Case | None:
    """In-Reply-To/References of a message in this contact's cases; else an open case of this
    contact with the same subject. (A header pointing into someone else's case is ignored:
    Message-IDs are not secrets, and nobody may write into another customer's thread.)"""
    ids = mail.thread_ids
    if ids:
        parent = (
            Message.objects.filter(message_id__in=ids, case__contact=contact)
            .select_related("case")
            .order_by("-id")
            .first()
        )
        if parent is not None and parent.case.status != Case.Status.CLOSED:
            return parent.case
    key = normalise_subject(mail.subject)
    if key:
        return (
            Case.objects.filter(contact=contact, thread_key=key, status__in=Case.OPEN_STATUSES)
            .order_by("-last_message_at", "-id")
            .first()
        )
    return None


def _message_for(case: Case, mail: InboundMail, received) -> Message:
    return Message(
        case=case,
        direction=Message.Direction.INBOUND,
        sender=mail.sender,
        sender_name=mail.sender_name,
        to=mail.to,
        subject=mail.subject,
        body=mail.body,
        occurred_at=received,
        received_at=received,
        sent_at=mail.sent_at,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=" ".join(mail.references),
    )


def _record_timeline(contact: Contact, case: Case, message: Message, *, created: bool, reopened: bool, source: str):
    if created:
        activity_record(
            contact=contact,
            kind=Activity.Kind.CASE,
            summary=f"Support case opened: {case.subject}",
            data={"case": case.pk},
            source=source,
            occurred_at=message.received_at,
        )
    activity_record(
        contact=contact,
        kind=Activity.Kind.EMAIL_IN,
        summary=f"Email received: {message.subject or '(no subject)'}",
        data={"case": case.pk, "message": message.pk, "message_id": message.message_id, "reopened": reopened},
        source=source,
        occurred_at=message.received_at,
    )


@transaction.atomic
def inbound_message_receive(
    *, mail: InboundMail, channel: str = Case.Channel.EMAIL, source: str = "email"
) -> InboundResult:
    """Store one customer message: thread it into a case (or open one) and queue the AI pipeline.

    A system entry point (inbound mail; no actor). A message whose Message-ID we already have is a
    duplicate and changes nothing. A resolved or waiting case the customer writes to again is
    reopened, audited as the system.
    """
    existing = Message.objects.filter(message_id=mail.message_id).select_related("case").first()
    if existing is not None:
        return InboundResult("duplicate", existing, existing.case)
    contact = _contact_for(mail, source=source)
    now = timezone.now()
    received = mail.received_at or now
    case = _case_for(contact, mail)
    outcome = "threaded"
    if case is None:
        outcome = "created"
        case = Case.objects.create(
            contact=contact,
            subject=mail.subject or mail.body.strip().splitlines()[0][:120],
            thread_key=normalise_subject(mail.subject),
            channel=channel,
            last_message_at=received,
            waiting_since=received,
            created_at=received,
        )
    message = _message_for(case, mail, received)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        # the same message delivered twice at the same moment: the other delivery stored it
        existing = Message.objects.filter(message_id=mail.message_id).select_related("case").first()
        if existing is None:
            raise
        if outcome == "created":
            case.delete()
        return InboundResult("duplicate", existing, existing.case)
    old_status = case.status
    reopened = old_status in (Case.Status.RESOLVED, Case.Status.PENDING_CUSTOMER)
    Case.objects.filter(pk=case.pk).update(
        thread_version=F("thread_version") + 1,
        last_message_at=received,
        status=Case.Status.OPEN,
        resolved_at=None,
        waiting_since=case.waiting_since or received,
        updated_at=now,
    )
    case.refresh_from_db()
    if old_status != case.status:
        audit_record(
            verb="service.case_reopened",
            target=case,
            data={"before": {"status": old_status}, "after": {"status": case.status}, "message": message.pk},
        )
    _record_timeline(contact, case, message, created=outcome == "created", reopened=reopened, source=source)
    from service.tasks import message_pipeline_task

    message_pipeline_task.delay_on_commit(message.pk)
    return InboundResult(outcome, message, case)


def message_pipeline_run(*, message_id: int) -> str:
    """Triage → summary → knowledge → refund recommendation → grounded draft → approval requests.

    A system entry point (``message_pipeline_task``; no actor). The AI runs first, with no
    transaction open and no row locked; its results are then applied under the message and case
    locks, and only to the thread version it read (see :mod:`service.pipeline`). Idempotent per
    message: the message is stamped ``processed_at`` in the transaction that applies the results,
    so a redelivered task does nothing. A message that a newer customer message has overtaken is
    left to that message's run, which covers both. A result that cannot be applied hands the case
    to a person with the reason and never raises (database outages excepted: the task retries).
    Returns what happened, in a few words.
    """
    from service.pipeline import pipeline_run

    return pipeline_run(message_id=message_id)


def message_pipeline_sweep(*, older_than: timedelta, limit: int = 500) -> int:
    """Queue the pipeline again for inbound messages still unprocessed after ``older_than`` (the broker
    was down when they were stored, or a task was lost). A system entry point (beat); safe: the
    pipeline is idempotent per message."""
    from service.tasks import message_pipeline_task

    cutoff = timezone.now() - older_than
    ids = list(
        Message.objects.filter(direction=Message.Direction.INBOUND, processed_at__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for message_id in ids:
        message_pipeline_task.delay_on_commit(message_id)
    return len(ids)

"""Every change to the service desk goes through here: inbound mail, the AI pipeline, corrections,
replies written by people, refunds and the knowledge base.

Nothing here sends anything to a customer. Replies and refunds become approval requests;
only the approvals executor, calling ``service.handlers``, delivers them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from approvals.exceptions import InvalidState
from approvals.models import ApprovalRequest
from approvals.selectors import approval_open_for_subject
from approvals.services import approval_cancel, approval_request_create
from hitl_crm.ai.engine import run
from hitl_crm.ai.nlp.bm25 import BM25
from hitl_crm.ai.nlp.text import content_terms
from hitl_crm.ai.services import intent_example_add
from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.contacts.services import activity_record, contact_create
from service import refunds
from service.conf import app_settings
from service.inbound import InboundMail, normalise_subject
from service.models import Case, KnowledgeArticle, Message, RefundRequest, TriageCorrection
from service.routing import ISSUE_REFUND, SEND_REPLY, approval_flags

logger = logging.getLogger(__name__)

#: Articles scoring below this share of the best one are not suggested (nor handed to the drafting skill).
RELEVANCE_FLOOR = 0.4
THREAD_FOR_SUMMARY = 30  # messages; older ones are in the previous summary's facts anyway


# --- inbound -------------------------------------------------------------------------------


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


@transaction.atomic
def inbound_message_receive(
    *, mail: InboundMail, channel: str = Case.Channel.EMAIL, source: str = "email"
) -> InboundResult:
    """Store one customer message: thread it into a case (or open one) and queue the AI pipeline.

    A message whose Message-ID we already have is a duplicate and changes nothing.
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
    message = Message(
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
    reopened = case.status in (Case.Status.RESOLVED, Case.Status.PENDING_CUSTOMER)
    Case.objects.filter(pk=case.pk).update(
        thread_version=F("thread_version") + 1,
        last_message_at=received,
        status=Case.Status.OPEN,
        resolved_at=None,
        waiting_since=case.waiting_since or received,
        updated_at=now,
    )
    case.refresh_from_db()
    if outcome == "created":
        activity_record(
            contact=contact,
            kind=Activity.Kind.CASE,
            summary=f"Support case opened: {case.subject}",
            data={"case": case.pk},
            source=source,
            occurred_at=received,
        )
    activity_record(
        contact=contact,
        kind=Activity.Kind.EMAIL_IN,
        summary=f"Email received: {mail.subject or '(no subject)'}",
        data={"case": case.pk, "message": message.pk, "message_id": mail.message_id, "reopened": reopened},
        source=source,
        occurred_at=received,
    )
    from service.tasks import message_pipeline_task

    message_pipeline_task.delay_on_commit(message.pk)
    return InboundResult(outcome, message, case)


# --- the AI pipeline -----------------------------------------------------------------------


def _flag(code: str, message: str, span: str, severity: str) -> dict[str, str]:
    return {"code": code, "message": message, "span": span, "severity": severity}


def _thread_for_summary(case: Case) -> list[dict[str, str]]:
    recent = list(case.messages.order_by("-occurred_at", "-id")[:THREAD_FOR_SUMMARY])
    return [
        {"speaker": "Customer" if m.is_inbound else "Agent", "text": m.body} for m in reversed(recent) if m.body.strip()
    ]


def _summarise(case: Case) -> bool:
    """Refresh the case's summary and facts for its current thread version; True if it changed."""
    thread = _thread_for_summary(case)
    if not thread:
        return False
    result = run("summarize", {"messages": thread, "max_points": 4}, subject=case)
    if not result.ok:
        logger.warning("Case %s: summary failed: %s", case.pk, result.error)
        return False
    case.summary = result.output["summary"]
    case.key_points = [p["text"] for p in result.output["key_points"]]
    case.facts = result.output["facts"]
    case.summary_version = case.thread_version
    return True


def knowledge_search(text: str, *, k: int | None = None) -> list[KnowledgeArticle]:
    """The published articles that best answer ``text`` (BM25 over title, tags and body)."""
    k = k or app_settings.KNOWLEDGE_TOP_K
    articles = list(KnowledgeArticle.objects.filter(published=True).only("id", "title", "tags", "body"))
    query = content_terms(text)
    if not articles or not query:
        return []
    index = BM25([content_terms(f"{a.title}\n{a.title}\n{a.tags}\n{a.body}") for a in articles])
    scores = index.scores(query)
    ranked = sorted(range(len(articles)), key=lambda i: (-scores[i], articles[i].pk))
    floor = scores[ranked[0]] * RELEVANCE_FLOOR
    return [articles[i] for i in ranked[:k] if scores[i] > 0 and scores[i] >= floor]


def _exemplars(intent: str) -> list[dict[str, str]]:
    """Previously approved replies to cases of the same intent, newest first: the drafting skill
    reuses what people have already signed off for similar questions."""
    if not intent:
        return []
    sent = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            execution_key__isnull=False,
            reply_to__isnull=False,
            case__intent=intent,
        )
        .select_related("reply_to")
        .order_by("-id")[: app_settings.EXEMPLARS]
    )
    return [{"id": f"reply-{m.pk}", "question": m.reply_to.body[:2000], "reply": m.body[:4000]} for m in sent]


def _refund_policy_lines(case: Case) -> list[str]:
    """Refunds a person has approved for this case: only these may a draft mention as approved."""
    issued = case.refunds.filter(status=RefundRequest.Status.ISSUED)
    return [
        f"Refund of {refunds.money(r.amount_issued or r.amount, r.currency)}"
        f"{' for order ' + r.order_ref if r.order_ref else ''} approved and issued (reference {r.gateway_reference})."
        for r in issued
    ]


def _agent_name(case: Case) -> str:
    if case.owner_id and case.owner.get_full_name():
        return case.owner.get_full_name()
    from hitl_crm.ai.conf import app_settings as ai_settings

    return f"{ai_settings.COMPANY_NAME or 'The'} Support".strip()


def reply_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())[:280] or "Your support request"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _references(parent: Message) -> str:
    """RFC 5322: the parent's References (or, lacking them, its In-Reply-To) plus the parent's own id."""
    ids = [*(parent.references.split() or [parent.in_reply_to]), parent.message_id]
    return " ".join(list(dict.fromkeys(i for i in ids if i))[-20:])


def is_upset(case: Case) -> bool:
    return case.sentiment is not None and case.sentiment <= app_settings.UPSET_BELOW


def sentiment_context(case: Case) -> dict[str, Any]:
    """What approvals' policy matching reads about the customer's mood: the label "negative" only for
    a clearly upset customer (``UPSET_BELOW``), so that service decides what "upset" means; the raw
    score travels along for the audit trail."""
    if case.sentiment is None:
        return {"sentiment": "", "sentiment_score": None}
    label = "negative" if is_upset(case) else "positive" if case.sentiment >= 0.05 else "neutral"
    return {"sentiment": label, "sentiment_score": round(case.sentiment, 4)}


def _reply_context(case: Case) -> dict[str, Any]:
    return {"category": case.intent, "vip": case.is_vip, **sentiment_context(case)}


def _routing_flags(case: Case) -> list[dict[str, str]]:
    """Flags that say why a reply goes to a senior reviewer, in words a reviewer reads."""
    flags: list[dict[str, str]] = []
    if case.is_vip:
        flags.append(
            _flag(
                "vip_account",
                f"{case.contact.account.name} is a VIP account: a manager reviews every reply.",
                case.contact.account.name,
                "medium",
            )
        )
    if is_upset(case):
        flags.append(
            _flag(
                "negative_sentiment",
                f"The customer sounds upset (sentiment {case.sentiment:+.2f}): a manager reviews the reply.",
                "",
                "medium",
            )
        )
    return flags


def _cancel_open(action: str, subject: Any, *, reason: str) -> tuple[bool, ApprovalRequest | None]:
    """Cancel the open request of ``action`` on ``subject``; (False, request) if it is already executing."""
    current = approval_open_for_subject(action=action, subject=subject)
    if current is None:
        return True, None
    try:
        approval_cancel(request_id=current.pk, actor=None, reason=reason)
    except InvalidState:
        return False, current
    return True, current


def _reply_request_create(
    case: Case,
    *,
    proposal: dict[str, Any],
    requested_by: AbstractBaseUser | None = None,
    ai_run: Any = None,
    confidence: float | None = None,
    risk: str = "low",
    flags: list[dict[str, Any]] | None = None,
) -> ApprovalRequest:
    return approval_request_create(
        action=SEND_REPLY,
        subject=case,
        proposal=proposal,
        requested_by=requested_by,
        ai_run=ai_run,
        confidence=confidence,
        risk=risk,
        flags=approval_flags(flags or []),
        context=_reply_context(case),
    )


def message_pipeline_run(*, message_id: int) -> str:
    """Triage → summary → knowledge → refund recommendation → grounded draft → approval requests.

    The AI runs first, with no transaction open and no row locked; its results are then applied
    under the message and case locks, and only to the thread version it read (see
    :mod:`service.pipeline`). Idempotent per message: the message is stamped ``processed_at`` in the
    transaction that applies the results, so a redelivered task does nothing. A message that a
    newer customer message has overtaken is left to that message's run, which covers both. A
    result that cannot be applied hands the case to a person with the reason and never raises
    (database outages excepted: the task retries). Returns what happened, in a few words.
    """
    from service.pipeline import pipeline_run

    return pipeline_run(message_id=message_id)


def message_pipeline_sweep(*, older_than: timedelta, limit: int = 500) -> int:
    """Queue the pipeline again for inbound messages still unprocessed after ``older_than`` (the broker
    was down when they were stored, or a task was lost). Safe: the pipeline is idempotent per message."""
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


def case_summary_refresh(*, case_id: int) -> bool:
    """Bring the summary up to the thread's current version (after a reply went out). Idempotent.

    The summary is computed with no transaction open (no row lock held while the AI works) and
    stored only if the thread is still at the version it summarised; True if it was stored."""
    case = Case.objects.select_related("contact").filter(pk=case_id).first()
    if case is None or case.summary_is_current:
        return False
    version = case.thread_version
    if not _summarise(case):
        return False
    with transaction.atomic():
        stored = Case.objects.filter(pk=case.pk, thread_version=version, summary_version__lt=version).update(
            summary=case.summary, key_points=case.key_points, facts=case.facts, summary_version=version
        )
    return bool(stored)


# --- people's work ---------------------------------------------------------------------------


def _latest_inbound(case: Case) -> Message | None:
    return case.messages.filter(direction=Message.Direction.INBOUND).order_by("-occurred_at", "-id").first()


def _reroute_ai_draft(case: Case, *, actor: AbstractBaseUser) -> ApprovalRequest | None:
    """After a correction, send the pending AI draft through routing again (same proposal, new context)."""
    current = approval_open_for_subject(action=SEND_REPLY, subject=case)
    if current is None or current.requested_by_id or current.status != ApprovalRequest.Status.PENDING:
        return None
    if current.decisions.exists():
        return None
    approval_cancel(request_id=current.pk, actor=None, reason=f"Triage corrected by {actor}; routed again.")
    flags = [f for f in current.flags if f.get("code") not in {"vip_account", "negative_sentiment"}]
    return _reply_request_create(
        case,
        proposal=current.proposal,
        ai_run=current.ai_run,
        confidence=current.confidence,
        risk=current.risk,
        flags=[*flags, *_routing_flags(case)],
    )


@transaction.atomic
def case_triage_correct(
    *, case: Case, actor: AbstractBaseUser, intent: str | None = None, sentiment: float | None = None
) -> Case:
    """A person corrects the AI's intent and/or sentiment.

    The corrected intent becomes a training example for the intent classifier (the next
    ``intent_model_train`` learns it); both corrections are kept as :class:`TriageCorrection`
    rows. A pending AI draft is routed again, so a case re-labelled as upset reaches a manager.
    """
    if not actor.has_perm("service.change_case"):
        raise ValidationError("You may not change cases.")
    case = Case.objects.select_for_update(of=("self",)).select_related("contact__account").get(pk=case.pk)
    message = _latest_inbound(case)
    changed = False
    if intent is not None:
        intent = intent.strip()[:80]
        if not intent:
            raise ValidationError({"intent": "Give the intent."})
        if intent != case.intent or case.intent_source != Case.Source.HUMAN:
            TriageCorrection.objects.create(
                case=case,
                message=message,
                field=TriageCorrection.Field.INTENT,
                before=case.intent,
                after=intent,
                actor=actor,
            )
            if message is not None:
                intent_example_add(
                    text=f"{message.subject}\n{message.body}".strip(), intent=intent, source="correction"
                )
            case.intent, case.intent_source, case.intent_confidence = intent, Case.Source.HUMAN, 1.0
            changed = True
    if sentiment is not None:
        if not -1 <= sentiment <= 1:
            raise ValidationError({"sentiment": "Use a number between -1 and 1."})
        if sentiment != case.sentiment or case.sentiment_source != Case.Source.HUMAN:
            TriageCorrection.objects.create(
                case=case,
                message=message,
                field=TriageCorrection.Field.SENTIMENT,
                before="" if case.sentiment is None else f"{case.sentiment:+.2f}",
                after=f"{sentiment:+.2f}",
                actor=actor,
            )
            case.sentiment, case.sentiment_source = sentiment, Case.Source.HUMAN
            changed = True
    if changed:
        case.save()
        _reroute_ai_draft(case, actor=actor)
    return case


@transaction.atomic
def case_reply_submit(*, case: Case, author: AbstractBaseUser, body: str, subject: str = "") -> ApprovalRequest:
    """A person's own reply: it goes to another reviewer for approval (the author cannot approve it).

    Replaces a pending AI draft for the case.
    """
    if not author.has_perm("service.change_case"):
        raise ValidationError("You may not reply to cases.")
    case = Case.objects.select_for_update(of=("self",)).select_related("contact__account").get(pk=case.pk)
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": "Write the reply."})
    if not case.contact.email:
        raise ValidationError({"body": "This customer has no email address."})
    parent = _latest_inbound(case)
    ok, current = _cancel_open(SEND_REPLY, case, reason=f"Replaced by a reply {author} wrote.")
    if not ok:
        raise ValidationError("A reply is being sent right now; wait a moment and look at the thread again.")
    proposal = {
        "to": case.contact.email,
        "subject": (subject or "").strip() or reply_subject(case.subject),
        "body": body,
        "in_reply_to": parent.message_id if parent else "",
        "references": _references(parent) if parent else "",
        "case_id": case.pk,
    }
    # Not a warning sign, but a person's words are never sent by the autopilot: the flag keeps it away.
    flags = [
        _flag("written_by_agent", f"Written by {author.get_full_name() or author}.", "", "medium"),
        *_routing_flags(case),
    ]
    return _reply_request_create(
        case, proposal=proposal, requested_by=author, confidence=None, risk=case.risk or "low", flags=flags
    )


@transaction.atomic
def case_update(*, case: Case, actor: AbstractBaseUser, data: dict[str, Any]) -> Case:
    """Change status, priority or owner."""
    if not actor.has_perm("service.change_case"):
        raise ValidationError("You may not change cases.")
    allowed = {"status", "priority", "owner"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    case = Case.objects.select_for_update().get(pk=case.pk)
    for name, value in data.items():
        setattr(case, name, value)
    done = data.get("status") in (Case.Status.RESOLVED, Case.Status.CLOSED)
    if "status" in data:
        case.resolved_at = timezone.now() if done else None
        if done:
            case.needs_human, case.needs_human_reason = False, ""
    case.full_clean(exclude=["contact"])
    case.save()
    if done:
        # An AI draft for a case someone has closed would answer a question nobody is asking any more.
        pending = approval_open_for_subject(action=SEND_REPLY, subject=case)
        if pending is not None and pending.requested_by_id is None and pending.status == ApprovalRequest.Status.PENDING:
            approval_cancel(
                request_id=pending.pk, actor=None, reason=f"Case marked {case.get_status_display()} by {actor}."
            )
    return case


@transaction.atomic
def refund_request_create(
    *,
    case: Case,
    actor: AbstractBaseUser,
    amount: Decimal,
    currency: str = "",
    order_ref: str = "",
    reason: str = "",
) -> RefundRequest:
    """An agent proposes a refund (e.g. after checking the order); it is routed like any other."""
    if not actor.has_perm("service.add_refundrequest"):
        raise ValidationError("You may not propose refunds.")
    currency = (currency or app_settings.DEFAULT_CURRENCY).upper()
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Must be more than zero."})
    case = Case.objects.select_related("contact__account").get(pk=case.pk)
    if case.refunds.filter(status=RefundRequest.Status.PROPOSED).exists():
        raise ValidationError("A refund for this case is already waiting for approval.")
    refund = RefundRequest.objects.create(
        case=case,
        order_ref=order_ref.strip().upper()[:64],
        amount=amount,
        currency=currency,
        reason=reason,
        recommendation=RefundRequest.Recommendation.ESCALATE,
        requested_by=actor,
        rationale=f"Proposed by {actor.get_full_name() or actor}; the policy checks were not run automatically.",
    )
    approval_request_create(
        action=ISSUE_REFUND,
        subject=refund,
        requested_by=actor,
        proposal={
            "refund_request_id": refund.pk,
            "amount": str(refund.amount),
            "currency": currency,
            "order_ref": refund.order_ref,
            "reason": reason[:2000],
        },
        risk="medium",
        flags=approval_flags(_routing_flags(case)),
        context={
            "category": case.intent,
            "amount": str(amount),
            "currency": currency,
            "vip": case.is_vip,
            **sentiment_context(case),
        },
    )
    return refund


# --- approvals feedback (connected to approvals' documented signal in ServiceConfig.ready) ----------


def on_approval_status_changed(sender: Any, *, request_id: int, action: str, old: str, new: str, **kwargs) -> None:
    """Mirror a refund decision on the refund request; hand a case with a rejected draft to a person."""
    if action not in (SEND_REPLY, ISSUE_REFUND) or new not in ("rejected", "expired", "cancelled", "failed"):
        return
    req = ApprovalRequest.objects.filter(pk=request_id).first()
    if req is None:
        return
    with transaction.atomic():
        if action == ISSUE_REFUND:
            status = {
                "rejected": RefundRequest.Status.REJECTED,
                "expired": RefundRequest.Status.REJECTED,
                "cancelled": RefundRequest.Status.CANCELLED,
                "failed": RefundRequest.Status.FAILED,
            }[new]
            RefundRequest.objects.filter(pk=req.object_id, status=RefundRequest.Status.PROPOSED).update(
                status=status, updated_at=timezone.now()
            )
        elif new in ("rejected", "expired", "failed"):
            why = {
                "rejected": "The reviewer rejected the draft reply",
                "expired": "The draft reply expired unreviewed",
                "failed": "Sending the approved reply failed",
            }[new]
            Case.objects.filter(pk=req.object_id, status__in=Case.OPEN_STATUSES).update(
                needs_human=True, needs_human_reason=f"{why}; please write the answer.", updated_at=timezone.now()
            )


# --- knowledge base ----------------------------------------------------------------------------


ARTICLE_FIELDS = frozenset({"title", "body", "tags", "published", "last_reviewed_at"})


def _unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:180] or "article"
    slug, n = base, 2
    while KnowledgeArticle.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _clean_tags(tags: str) -> str:
    return ", ".join(dict.fromkeys(t.strip().lower() for t in (tags or "").split(",") if t.strip()))[:300]


@transaction.atomic
def knowledge_article_create(
    *,
    actor: AbstractBaseUser | None,
    title: str,
    body: str,
    tags: str = "",
    published: bool = False,
    last_reviewed_at=None,
) -> KnowledgeArticle:
    if actor is not None and not actor.has_perm("service.add_knowledgearticle"):
        raise ValidationError("You may not write knowledge articles.")
    article = KnowledgeArticle(
        title=title.strip(),
        body=body.strip(),
        tags=_clean_tags(tags),
        published=published,
        last_reviewed_at=last_reviewed_at or (timezone.localdate() if published else None),
        author=actor,
    )
    article.slug = _unique_slug(article.title)
    article.full_clean()
    article.save()
    return article


@transaction.atomic
def knowledge_article_update(
    *, article: KnowledgeArticle, actor: AbstractBaseUser | None, data: dict[str, Any]
) -> KnowledgeArticle:
    if actor is not None and not actor.has_perm("service.change_knowledgearticle"):
        raise ValidationError("You may not edit knowledge articles.")
    unknown = set(data) - ARTICLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    article = KnowledgeArticle.objects.select_for_update().get(pk=article.pk)
    for name, value in data.items():
        setattr(
            article, name, _clean_tags(value) if name == "tags" else value.strip() if isinstance(value, str) else value
        )
    if "title" in data:
        article.slug = _unique_slug(article.title, exclude_pk=article.pk)
    if data.get("published") and "last_reviewed_at" not in data:
        article.last_reviewed_at = timezone.localdate()
    article.full_clean()
    article.save()
    return article


__all__ = [
    "InboundResult",
    "case_reply_submit",
    "case_summary_refresh",
    "case_triage_correct",
    "case_update",
    "inbound_message_receive",
    "knowledge_article_create",
    "knowledge_article_update",
    "knowledge_search",
    "message_pipeline_run",
    "refund_request_create",
]

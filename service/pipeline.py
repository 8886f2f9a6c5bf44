"""The AI pipeline for one inbound message, as named steps that can each be run and tested alone.

    snapshot → triage → summary → knowledge → refund → draft     reads and AI calls: no transaction
    route                                                         one transaction, rows locked

The AI is called with no transaction open and no row locked, so a slow backend holds up nobody
and every :class:`~hitl_crm.ai.models.AiRun` it records is committed at once: whatever happens
afterwards, the record of what the AI saw and said is kept. ``route`` then locks the message and
the case and applies the results only to the thread version the AI read (``Case.thread_version``):
if the customer wrote again meanwhile, the results are dropped and the newer message's run covers
both; if only our side of the thread moved (a reply went out), the steps run again.

A result that cannot be applied (a label too long for its column, a draft an approval refuses)
rolls the route back; the run is marked invalid with the reason, the case goes to a person
("needs a person", with the reason) and the message is stamped, so a batch goes on with the next.

Idempotent per message version: ``route`` stamps ``processed_at`` in the transaction that applies
the results, so a redelivered task finds the message stamped and does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from approvals.exceptions import AlreadyOpen
from approvals.services import approval_request_create
from hitl_crm.ai.engine import AiResult, run, run_reject
from hitl_crm.ai.nlp import facts as nlp_facts
from hitl_crm.ai.nlp.risk import injection_spans, max_risk
from hitl_crm.contacts.models import Activity
from service import refunds
from service.conf import app_settings
from service.inbound import new_text
from service.models import Case, KnowledgeArticle, Message, RefundRequest
from service.routing import ISSUE_REFUND, SEND_REPLY, approval_flags
from service.services.cases import thread_for_summary as _thread_for_summary
from service.services.knowledge import knowledge_search
from service.services.refunds import refund_policy_lines as _refund_policy_lines
from service.services.replies import agent_name as _agent_name
from service.services.replies import open_request_cancel as _cancel_open
from service.services.replies import references_header as _references
from service.services.replies import reply_exemplars as _exemplars
from service.services.replies import reply_request_create as _reply_request_create
from service.services.replies import reply_subject, sentiment_context
from service.services.replies import review_flag as _flag
from service.services.replies import routing_flags as _routing_flags

logger = logging.getLogger(__name__)

PIPELINE_VERSION = "service-pipeline@3"
#: Customer messages (newest) the draft and the refund check read; older ones are in the summary.
THREAD_FOR_DRAFT = 10
#: Characters of customer text handed to the drafting skill (newest messages kept first).
DRAFT_TEXT_BUDGET = 12_000
#: Messages of both sides (newest) the summary and the draft read as turns.
THREAD_TURNS = 20
#: How often the steps run again when our side of the thread changed while the AI worked.
MAX_ATTEMPTS = 3


# --- what the steps pass on ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the AI steps read: the message, its case at one thread version, and the thread."""

    message: Message
    case: Case
    version: int
    pending: list[Message]  # the customer's messages this run answers (unprocessed, up to this one)
    thread: list[Message]  # the customer's recent messages, oldest first
    conversation: list[Message] = field(default_factory=list)  # both sides, oldest first

    @property
    def turns(self) -> list[dict[str, str]]:
        """The thread as the skills read it: who (customer or agent), when, and each message's own
        words (quoted earlier mail removed), oldest first, the newest within the draft budget."""
        messages = self.conversation or self.thread
        turns: list[dict[str, str]] = []
        used = 0
        for m in reversed(messages):
            text = new_text(m.body)
            if not text:
                continue
            if turns and used + len(text) > DRAFT_TEXT_BUDGET:
                break
            used += len(text)
            turns.append(
                {
                    "role": "customer" if m.is_inbound else "agent",
                    "author": (m.sender_name or ("Customer" if m.is_inbound else "Agent"))[:100],
                    "at": timezone.localtime(m.occurred_at).isoformat(timespec="minutes"),
                    "text": text,
                }
            )
        return list(reversed(turns))

    @property
    def text(self) -> str:
        """What the customer said since our last processed message (what triage classifies)."""
        return "\n\n".join(m.body.strip() for m in self.pending) or self.message.body.strip()

    @property
    def thread_messages(self) -> list[refunds.ThreadMessage]:
        """The thread as refunds read it: each message's own words (quoted earlier mail removed)."""
        return [
            refunds.ThreadMessage(m.pk, new_text(m.body), timezone.localdate(m.occurred_at))
            for m in self.thread
            if new_text(m.body)
        ]

    @property
    def thread_text(self) -> str:
        """The customer's side of the thread, oldest first, quotes removed, within the draft budget."""
        parts: list[str] = []
        used = 0
        for item in reversed(self.thread_messages):
            if parts and used + len(item.text) > DRAFT_TEXT_BUDGET:
                break
            parts.append(item.text)
            used += len(item.text)
        return "\n\n".join(reversed(parts)) or self.text


@dataclass
class Triage:
    ok: bool
    result: AiResult
    intent: str = ""
    confidence: float = 0.0
    sentiment: float | None = None
    risk: str = "low"
    flags: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    result: AiResult
    summary: str
    key_points: list[str]
    facts: dict[str, Any]


@dataclass(frozen=True)
class RefundPlan:
    """What the refund check found in the thread; ``recommendation`` set when a refund is to be proposed."""

    reading: refunds.RefundReading
    ask: refunds.RefundAsk | None = None
    recommendation: refunds.Recommendation | None = None
    reply_flags: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Results:
    triage: Triage
    summary: Summary | None
    articles: list[KnowledgeArticle]
    refund: RefundPlan
    draft: AiResult | None
    stage: str = "start"  # how far ``route`` got: names the step a failure belongs to


# --- the steps -------------------------------------------------------------------------------


def pipeline_snapshot(*, message_id: int) -> Snapshot | str:
    """Read the message and its case (no locks). A string says why there is nothing to do."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return "gone"
    if message.processed_at is not None:
        return "already processed"
    if not message.is_inbound:
        Message.objects.filter(pk=message.pk, processed_at__isnull=True).update(
            processed_at=timezone.now(), pipeline_note="outbound: nothing to do"
        )
        return "outbound"
    case = Case.objects.select_related("contact__account", "owner").get(pk=message.case_id)
    inbound = case.messages.filter(direction=Message.Direction.INBOUND)
    if inbound.filter(pk__gt=message.pk).exists():
        # The newer message's run reads this one too and stamps both; stamping it here would hide it.
        return "superseded"
    pending = list(inbound.filter(processed_at__isnull=True, pk__lte=message.pk).order_by("occurred_at", "id"))
    recent = list(inbound.filter(pk__lte=message.pk).order_by("-occurred_at", "-id")[:THREAD_FOR_DRAFT])
    both = list(
        case.messages.filter(occurred_at__lte=message.occurred_at).order_by("-occurred_at", "-id")[:THREAD_TURNS]
    )
    return Snapshot(
        message, case, case.thread_version, pending or [message], list(reversed(recent)), list(reversed(both))
    )


def pipeline_triage(snap: Snapshot) -> Triage:
    """Intent, sentiment and risk of what the customer said since our last look."""
    result = run("triage", {"text": snap.text, "subject": snap.message.subject}, subject=snap.case)
    if not result.ok:
        return Triage(False, result, flags=list(result.flags))
    out = result.output
    return Triage(
        True,
        result,
        out["intent"],
        float(out.get("intent_confidence", result.confidence)),
        float(out["sentiment"]),
        result.risk,
        list(result.flags),
    )


def pipeline_summary(snap: Snapshot) -> Summary | None:
    """Summary, key points, facts, asks and promises of the whole thread (both sides, with who and
    when); None when there is nothing to summarise or the summary failed (the case keeps its previous one)."""
    thread = snap.turns or _thread_for_summary(snap.case)
    if not thread:
        return None
    result = run("summarize", {"messages": thread, "max_points": 4}, subject=snap.case)
    if not result.ok:
        logger.warning("Case %s: summary failed: %s", snap.case.pk, result.error)
        return None
    out = result.output
    return Summary(result, out["summary"], [p["text"] for p in out["key_points"]], out["facts"])


def pipeline_knowledge(snap: Snapshot) -> list[KnowledgeArticle]:
    """The published articles that answer this thread."""
    return knowledge_search(f"{snap.message.subject}\n{snap.thread_text}")


def orders_on_record(case: Case) -> set[str]:
    """Order references the CRM knows for the case's customer: purchases on the contact's timeline
    (``Activity`` of kind purchase with ``data["order_ref"]``, or an order id in its summary) and
    orders already refunded to them."""
    known: set[str] = set()
    purchases = Activity.objects.filter(contact_id=case.contact_id, kind=Activity.Kind.PURCHASE)
    for summary, data in purchases.values_list("summary", "data"):
        ref = (data.get("order_ref") or data.get("order")) if isinstance(data, dict) else ""
        if ref:
            known.add(str(ref).strip().upper())
        known.update(i.upper() for i in nlp_facts.order_ids(summary or ""))
    known.update(
        r.upper()
        for r in RefundRequest.objects.filter(case__contact_id=case.contact_id, status=RefundRequest.Status.ISSUED)
        .exclude(order_ref="")
        .values_list("order_ref", flat=True)
    )
    return known


def _refund_already_made(case: Case, reading: refunds.RefundReading, thread: list[Message]) -> bool:
    """One refund decision per ask: a refund waiting for approval, or one made since the ask."""
    if case.refunds.filter(status=RefundRequest.Status.PROPOSED).exists():
        return True
    asked_at = next((m.created_at for m in thread if m.pk == reading.ask_message_id), None)
    since = Q(source_message_id__gte=reading.ask_message_id)
    if asked_at is not None:
        since |= Q(source_message__isnull=True, created_at__gte=asked_at)
    return case.refunds.filter(since).exists()


def pipeline_refund(snap: Snapshot, triage: Triage, *, facts: dict[str, Any] | None = None) -> RefundPlan:
    """Read the whole thread for a refund ask and apply the refund policy to it (no AI, no writes).

    The latest word wins ("I don't want a refund" after an ask takes it back), quoted earlier mail
    is ignored, and an order the CRM has no record of makes the ask high risk."""
    thread = snap.thread_messages
    reading = refunds.read_thread(thread, intent=triage.intent if triage.ok else "")
    if reading.withdrawn and snap.case.refunds.filter(status=RefundRequest.Status.PROPOSED).exists():
        flag = _flag(
            "refund_withdrawn",
            "The customer no longer asks for the refund that waits for approval: check and reject it.",
            "",
            "medium",
        )
        return RefundPlan(reading, reply_flags=[flag])
    if not triage.ok or not reading.asked or _refund_already_made(snap.case, reading, snap.thread):
        return RefundPlan(reading)
    ask = refunds.extract_thread_ask(
        thread,
        reading,
        default_currency=app_settings.DEFAULT_CURRENCY,
        known_order_ids=(facts or snap.case.facts or {}).get("order_ids"),
    )
    if ask.amount is None or ask.amount <= 0:
        flag = _flag(
            "refund_amount_unknown",
            "The customer asks for money back but names no amount: check the "
            "order and create the refund request by hand.",
            "",
            "medium",
        )
        return RefundPlan(reading, ask, reply_flags=[flag])
    today = timezone.localdate(snap.message.occurred_at)
    prior = RefundRequest.objects.filter(
        case__contact_id=snap.case.contact_id,
        status=RefundRequest.Status.ISSUED,
        issued_at__gte=timezone.now() - timedelta(days=365),
    ).count()
    recommendation = refunds.recommend(
        ask=ask,
        today=today,
        prior_refunds=prior,
        injection=injection_spans("\n".join(m.text for m in thread)),
        window_days=app_settings.REFUND_WINDOW_DAYS,
        limit=app_settings.REFUND_POLICY_LIMIT,
        max_prior=app_settings.REFUND_MAX_PRIOR,
        order_known=(ask.order_ref.upper() in orders_on_record(snap.case)) if ask.order_ref else None,
    )
    high = [f for f in recommendation.flags if f["code"] == "refund_order_unknown"]
    return RefundPlan(reading, ask, recommendation, reply_flags=high)


def pipeline_draft(snap: Snapshot, triage: Triage, articles: list[KnowledgeArticle]) -> AiResult | None:
    """A grounded reply to the whole thread, with exemplars of approved replies to similar cases;
    None when triage failed (a person reads the case first)."""
    if not triage.ok:
        return None
    return run(
        "draft_reply",
        {
            "customer_text": snap.thread_text,
            "customer_name": snap.case.contact.full_name,
            "agent_name": _agent_name(snap.case),
            "sentiment": max(-1.0, min(1.0, triage.sentiment or 0.0)),
            "intent": triage.intent,
            "knowledge": [{"id": f"kb-{a.pk}", "title": a.title, "body": a.body} for a in articles],
            "exemplars": _exemplars(triage.intent),
            "policy": _refund_policy_lines(snap.case),
            "thread": snap.turns,
        },
        subject=snap.case,
    )


def _needs_human(case: Case, reasons: list[str]) -> None:
    reasons = [r for r in dict.fromkeys(reasons) if r]
    case.needs_human = bool(reasons)
    case.needs_human_reason = " ".join(reasons)[:500]


def _apply_triage(case: Case, triage: Triage, reasons: list[str]) -> None:
    case.flags = triage.flags
    fields = ["flags"]
    if triage.ok:
        case.intent, case.intent_confidence, case.intent_source = triage.intent, triage.confidence, Case.Source.AI
        case.sentiment, case.sentiment_source = triage.sentiment, Case.Source.AI
        case.risk = triage.risk
        fields += ["intent", "intent_confidence", "intent_source", "sentiment", "sentiment_source", "risk"]
        if triage.risk in ("high", "critical"):
            case.priority = Case.Priority.URGENT if triage.risk == "critical" else Case.Priority.HIGH
            fields.append("priority")
    else:
        reasons.append(f"Triage failed ({triage.result.error[:150]}); please read and route this case.")
    case.save(update_fields=fields)


def _propose_refund(
    snap: Snapshot, case: Case, message: Message, plan: RefundPlan, triage: Triage
) -> RefundRequest | None:
    ask, recommendation = plan.ask, plan.recommendation
    if ask is None or ask.amount is None or recommendation is None:  # a recommendation implies an amount
        return None
    if _refund_already_made(case, plan.reading, snap.thread):
        return None
    refund = RefundRequest.objects.create(
        case=case,
        source_message=message,
        order_ref=ask.order_ref,
        order_date=ask.order_date,
        amount=ask.amount,
        currency=ask.currency,
        reason=ask.reason,
        recommendation=recommendation.verdict,
        rationale=recommendation.rationale,
        flags=recommendation.flags,
    )
    factor = {"approve": 1.0, "deny": 0.6, "escalate": 0.3}[recommendation.verdict]
    approval_request_create(
        action=ISSUE_REFUND,
        subject=refund,
        proposal={
            "refund_request_id": refund.pk,
            "amount": str(refund.amount),
            "currency": refund.currency,
            "order_ref": refund.order_ref,
            "reason": refund.reason,
        },
        ai_run=triage.result.run,
        confidence=round(min(1.0, triage.confidence * factor), 4),
        risk=max_risk(recommendation.risk, triage.risk),
        flags=approval_flags([*recommendation.flags, *triage.flags, *_routing_flags(case)]),
        context={
            "category": triage.intent,
            "amount": str(refund.amount),
            "currency": refund.currency,
            "vip": case.is_vip,
            **sentiment_context(case),
        },
    )
    return refund


def _propose_reply(
    case: Case, message: Message, results: Results, refund: RefundRequest | None, reasons: list[str]
) -> None:
    triage, draft = results.triage, results.draft
    assert draft is not None
    flags = [*triage.flags, *results.refund.reply_flags, *draft.flags, *_routing_flags(case)]
    if refund is not None:
        flags.append(
            _flag(
                "refund_pending",
                f"A refund of {refunds.money(refund.amount, refund.currency)} "
                "waits for its own approval; this reply must not promise it.",
                "",
                "medium",
            )
        )
    risk = max_risk(triage.risk, draft.risk)
    if any(f.get("severity") == "high" for f in results.refund.reply_flags):
        risk = max_risk(risk, "high")
    proposal = {
        "to": case.contact.email,
        "subject": reply_subject(case.subject),
        "body": draft.output["body"],
        "in_reply_to": message.message_id,
        "references": _references(message),
        "case_id": case.pk,
    }
    try:
        _reply_request_create(
            case, proposal=proposal, ai_run=draft.run, confidence=draft.confidence, risk=risk, flags=flags
        )
    except AlreadyOpen:
        reasons.append("A reply is already waiting for approval.")
    if "no_grounding" in {f["code"] for f in flags}:
        reasons.append("No knowledge article answers this; the draft only says we will follow up.")


def _apply_summary(case: Case, summary: Summary | None, *, version: int) -> None:
    if summary is None:
        return  # the case keeps its previous summary
    case.summary, case.key_points, case.facts = summary.summary, summary.key_points, summary.facts
    case.summary_version = version
    case.save(update_fields=["summary", "key_points", "facts", "summary_version"])


def _draft_step(
    case: Case,
    message: Message,
    results: Results,
    refund: RefundRequest | None,
    reasons: list[str],
    *,
    reply_in_flight: bool,
) -> str:
    """Put the draft up for approval (or say why not); returns the pipeline note."""
    draft = results.draft
    if draft is None or not draft.ok:
        error = draft.error if draft is not None else "no draft"
        reasons.append(f"The AI could not draft a reply ({error[:150]}); please write one.")
        return "draft failed"
    if reply_in_flight:
        reasons.append("A reply was being sent as the customer wrote again; check the thread and answer.")
        return "reply in flight"
    _propose_reply(case, message, results, refund, reasons)
    return "drafted"


def _hand_off_reasons(triage: Triage, plan: RefundPlan) -> list[str]:
    """Why a person must look at the case even with a draft waiting: high risk, injection, refunds."""
    reasons: list[str] = []
    if triage.risk in ("high", "critical"):
        high = [f["message"] for f in triage.flags if f.get("severity") == "high"]
        reasons.append(" ".join(high[:2]) or f"Triage rates the risk {triage.risk}.")
    if any(f["code"] == "prompt_injection" for f in triage.flags):
        reasons.append("The message contains instructions aimed at the AI.")
    reasons.extend(f["message"] for f in plan.reply_flags if f["code"] in {"refund_order_unknown", "refund_withdrawn"})
    return reasons


@transaction.atomic
def pipeline_route(snap: Snapshot, results: Results) -> str | None:
    """Apply the results under the message and case locks: case fields, the refund proposal and the
    reply draft as approval requests, the hand-off to a person. None when the thread moved on since
    the snapshot (nothing is applied)."""
    message = Message.objects.select_for_update().filter(pk=snap.message.pk).first()
    if message is None:
        return "gone"
    case = (
        Case.objects.select_for_update(of=("self",)).select_related("contact__account", "owner").get(pk=message.case_id)
    )
    if message.processed_at is not None:
        return "already processed"
    if case.thread_version != snap.version:
        return None
    triage, reasons = results.triage, []
    results.stage = "withdraw"
    withdrawn_ok, withdrawn = _cancel_open(
        SEND_REPLY, case, reason="The customer wrote again; a new draft replaces this one."
    )
    if withdrawn is not None and withdrawn.requested_by_id and withdrawn_ok:
        reasons.append(f"A reply {withdrawn.requested_by} wrote was withdrawn because the customer wrote again.")
    results.stage = "triage"
    _apply_triage(case, triage, reasons)
    results.stage = "summary"
    _apply_summary(case, results.summary, version=snap.version)
    case.suggested_article_ids = [a.pk for a in results.articles]
    note = "triage failed"
    if triage.ok:
        results.stage = "refund"
        refund = _propose_refund(snap, case, message, results.refund, triage)
        results.stage = "draft"
        note = _draft_step(case, message, results, refund, reasons, reply_in_flight=not withdrawn_ok)
        reasons.extend(_hand_off_reasons(triage, results.refund))
    results.stage = "save"
    _needs_human(case, reasons)
    case.save()
    _stamp(snap, f"{PIPELINE_VERSION}: {note}")
    return note


def _stamp(snap: Snapshot, note: str) -> None:
    ids = [m.pk for m in snap.pending]
    Message.objects.filter(pk__in=ids, processed_at__isnull=True).update(
        processed_at=timezone.now(), pipeline_note=note[:300]
    )


_STAGE_NAMES = {
    "triage": "triage",
    "summary": "summary",
    "refund": "refund proposal",
    "draft": "draft reply",
}


def _run_of(results: Results) -> AiResult | None:
    """The AI run whose output the failed stage was applying."""
    return {
        "triage": results.triage.result,
        "summary": results.summary.result if results.summary else None,
        "refund": results.triage.result,
        "draft": results.draft,
    }.get(results.stage)


def pipeline_fail(snap: Snapshot, error: Exception, *, stage: str = "", failed: AiResult | None = None) -> str:
    """The results could not be applied: keep the AI's record (marked invalid with the reason), hand
    the case to a person with the reason, and stamp the message so nothing retries it blindly."""
    what = _STAGE_NAMES.get(stage, "result")
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    logger.warning("Case %s: the pipeline could not apply the %s: %s", snap.case.pk, what, detail)
    if failed is not None and failed.ok:
        run_reject(run_id=failed.run.pk, reason=detail)
    reason = f"The AI's {what} could not be used ({detail}); please read and answer this case."
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=snap.message.pk).first()
        if message is None or message.processed_at is not None:
            return "already processed"
        case = Case.objects.select_for_update(of=("self",)).get(pk=message.case_id)
        case.needs_human = True
        case.needs_human_reason = " ".join(r for r in (reason, case.needs_human_reason) if r)[:500]
        case.flags = [
            *[f for f in case.flags or [] if f.get("code") != "pipeline_failed"],
            _flag("pipeline_failed", reason, "", "high"),
        ]
        case.save(update_fields=["needs_human", "needs_human_reason", "flags", "updated_at"])
        _stamp(snap, f"{PIPELINE_VERSION}: failed ({what})")
    return "failed"


def pipeline_run(*, message_id: int) -> str:
    """Run every step for one message: the AI first, with no transaction open, then ``route``.
    Returns what happened, in a few words (see :func:`service.services.message_pipeline_run`)."""
    for _attempt in range(MAX_ATTEMPTS):
        snap = pipeline_snapshot(message_id=message_id)
        if isinstance(snap, str):
            return snap
        triage = pipeline_triage(snap)
        summary = pipeline_summary(snap)
        articles = pipeline_knowledge(snap)
        results = Results(
            triage=triage,
            summary=summary,
            articles=articles,
            refund=pipeline_refund(snap, triage, facts=summary.facts if summary else None),
            draft=pipeline_draft(snap, triage, articles),
        )
        try:
            outcome = pipeline_route(snap, results)
        except OperationalError:
            raise  # the database is unavailable: the task retries later
        except Exception as exc:  # a result the database or approvals refused: never lose the work
            return pipeline_fail(snap, exc, stage=results.stage, failed=_run_of(results))
        if outcome is not None:
            return outcome
        logger.info("Case %s: the thread changed while the AI worked; reading it again", snap.case.pk)
    snap = pipeline_snapshot(message_id=message_id)
    if isinstance(snap, str):
        return snap
    return pipeline_fail(snap, RuntimeError(f"the thread changed {MAX_ATTEMPTS} times while the AI was working"))


__all__ = [
    "PIPELINE_VERSION",
    "Results",
    "Snapshot",
    "Triage",
    "orders_on_record",
    "pipeline_draft",
    "pipeline_fail",
    "pipeline_knowledge",
    "pipeline_refund",
    "pipeline_route",
    "pipeline_run",
    "pipeline_snapshot",
    "pipeline_summary",
    "pipeline_triage",
]

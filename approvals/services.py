"""Every change to approvals goes through here, whoever calls: UI, API, admin, tasks, shell.

The invariant (DESIGN.md §1): a handler runs only for a request in ``approved`` state,
approved by enough qualified humans (or the autopilot) for exactly the payload it runs,
against the subject version seen at decision time, and at most once.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db import connections as db_connections
from django.utils import timezone

from approvals.audit import audit_record
from approvals.autopilot import autopilot_evaluate, autopilot_refresh
from approvals.conf import app_settings
from approvals.exceptions import (
    AlreadyOpen,
    ApprovalError,
    AuthorityExceeded,
    InvalidDecision,
    InvalidEdits,
    InvalidInput,
    InvalidPayload,
    InvalidState,
    NotAllowed,
    PayloadConflict,
)
from approvals.models import (
    REVIEW_PERMISSION,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    Decision,
    PayloadVersion,
    Risk,
    overdue_rank_of,
)
from approvals.payloads import canonical_json, edit_ratio, jsonable, payload_diff, payload_hash, subject_version
from approvals.payloads import payload_hash as payload_hash_of
from approvals.policies import (
    NoExchangeRate,
    amount_in_range,
    authority_of,
    policy_match,
    to_decimal,
    within_authority,
)
from approvals.registry import Action, Redrafted, get_action
from approvals.selectors import approval_money, decide_blocker, pending_count_name
from approvals.signals import approval_status_changed
from hitl_crm.counters import forget
from hitl_crm.money import Money, MoneyError, UnknownCurrency, currency_code
from hitl_crm.permissions import has_permission

if TYPE_CHECKING:
    # Resolved lazily at run time by ``__getattr__`` below (approvals.execution imports this module).
    from approvals.execution import approval_execute, approval_reap_stuck

logger = logging.getLogger(__name__)

Status = ApprovalRequest.Status
Verdict = Decision.Verdict
# The AI engine speaks low/medium/high (like risk); older callers say info/warning.
FLAG_SEVERITIES = ("info", "low", "warning", "medium", "high", "critical")


# --- helpers -----------------------------------------------------------------------------


def _first_messages(errors: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error structure as ``{"field": "first message"}`` (dotted paths for nesting)."""
    from hitl_crm.validation import flatten_errors

    flat = flatten_errors(errors) or {"non_field_errors": "Invalid."}
    return {f"{prefix}.{field}": text for field, text in flat.items()} if prefix else flat


def validate_payload(
    spec: Action, payload: Any, *, subject: models.Model | None, error: type[InvalidPayload]
) -> dict[str, Any]:
    """Run the action's serializer; return the payload as it will be stored (JSON types)."""
    if not isinstance(payload, dict):
        raise error({"payload": "Expected an object of fields."})
    serializer = spec.serializer(data=payload, context={"subject": subject})
    if not serializer.is_valid():
        raise error(_first_messages(serializer.errors))
    unknown = sorted(set(payload) - set(serializer.fields))
    if unknown:
        raise error(dict.fromkeys(unknown, "Unknown field."))
    return jsonable(serializer.data)


def _review_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="approvals", codename=REVIEW_PERMISSION)


def _grant(req: ApprovalRequest, *, groups: Sequence[Group] = (), users: Sequence[User] = ()) -> None:
    """Give the review permission on ``req`` to groups/users (direct-FK guardian rows)."""
    permission = _review_permission()
    ApprovalRequestGroupObjectPermission.objects.bulk_create(
        [ApprovalRequestGroupObjectPermission(content_object=req, group=g, permission=permission) for g in groups],
        ignore_conflicts=True,
    )
    ApprovalRequestUserObjectPermission.objects.bulk_create(
        [ApprovalRequestUserObjectPermission(content_object=req, user=u, permission=permission) for u in users],
        ignore_conflicts=True,
    )


def _default_group() -> list[Group]:
    return list(Group.objects.filter(name=app_settings.DEFAULT_REVIEWER_GROUP))


def _on_commit_status(req: ApprovalRequest, old: str) -> None:
    new, request_id, action = req.status, req.pk, req.action
    if old == new:
        return
    transaction.on_commit(
        lambda: approval_status_changed.send(
            sender=ApprovalRequest, request_id=request_id, action=action, old=old, new=new
        )
    )


def _enqueue_execution(req: ApprovalRequest) -> None:
    """Execute after commit: at once, or at the end of the undo window (``execute_after``)."""
    from approvals.tasks import approval_execute_task

    if req.execute_after is None or req.execute_after <= timezone.now():
        approval_execute_task.delay_on_commit(req.pk)
    elif getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        # No broker to hold a delayed task (the embedded demo): a timer in this process runs
        # it when the window ends; the reaper (beat) covers a process that stops before then.
        request_id, delay = req.pk, (req.execute_after - timezone.now()).total_seconds()
        transaction.on_commit(lambda: _execute_later(request_id, delay))
    else:
        # A task that arrives early (clock skew) reschedules itself; a lost one is the reaper's.
        approval_execute_task.apply_async_on_commit((req.pk,), eta=req.execute_after)


def _execute_later(request_id: int, delay: float) -> threading.Timer:
    """Run the execution task for ``request_id`` in ``delay`` seconds, in a daemon thread."""

    def fire() -> None:
        from approvals.tasks import approval_execute_task

        try:
            approval_execute_task.delay(request_id)
        except Exception:  # a thread has no caller to tell: log it; the request stays approved
            logger.exception("Approval request %s: the delayed execution failed", request_id)
        finally:
            db_connections.close_all()  # this thread's connections only

    timer = threading.Timer(max(0.0, delay) + 0.05, fire)
    timer.daemon = True
    timer.start()
    return timer


def _enqueue_notification(req: ApprovalRequest, *, reason: str, group_ids: list[int] | None = None) -> None:
    if not app_settings.NOTIFY_REVIEWERS:
        return
    from approvals.tasks import approval_notify_task

    approval_notify_task.delay_on_commit(req.pk, reason, group_ids)


def _normalise_flags(flags: Any) -> list[dict[str, Any]]:
    if flags in (None, ""):
        return []
    if not isinstance(flags, list):
        raise InvalidInput({"flags": "Expected a list of {code, message} objects."})
    out = []
    for index, flag in enumerate(flags):
        if not isinstance(flag, dict) or not str(flag.get("code", "")).strip():
            raise InvalidInput({f"flags[{index}]": "Each flag needs a code and a message."})
        severity = flag.get("severity", "warning")
        if severity not in FLAG_SEVERITIES:
            raise InvalidInput({f"flags[{index}].severity": f"Use one of: {', '.join(FLAG_SEVERITIES)}."})
        item = {"code": str(flag["code"])[:60], "message": str(flag.get("message", ""))[:500], "severity": severity}
        if flag.get("span") is not None:
            item["span"] = flag["span"]
        out.append(item)
    return jsonable(out)


def _normalise_context(spec: Action, final: dict[str, Any], context: Any) -> dict[str, Any]:
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise InvalidInput({"context": "Expected an object."})
    ctx = dict(context)
    # The amount that routes the request is the amount that will be executed: the
    # payload's own amount wins over anything the caller claims.
    if spec.amount_field and final.get(spec.amount_field) not in (None, ""):
        ctx["amount"] = final[spec.amount_field]
    if ctx.get("amount") not in (None, ""):
        amount = to_decimal(ctx["amount"])
        if amount is None:
            raise InvalidInput({"context.amount": "Not a number."})
        ctx["amount"] = str(amount)
    # Amounts are money: the payload's currency (or the caller's) must be a known ISO 4217 code.
    currency_key = spec.currency_field or "context.currency"
    raw_currency = final.get(spec.currency_field) if spec.currency_field else ctx.get("currency")
    if spec.currency_field and raw_currency in (None, "") and ctx.get("amount") not in (None, ""):
        raise InvalidInput({currency_key: "Give the currency of the amount (an ISO 4217 code, e.g. USD)."})
    if raw_currency not in (None, ""):
        try:
            ctx["currency"] = currency_code(raw_currency)
        except UnknownCurrency as exc:
            raise InvalidInput({currency_key: str(exc)}) from None
    ctx["category"] = str(ctx.get("category") or "")[:60]
    ctx["vip"] = bool(ctx.get("vip", False))
    return jsonable(ctx)


def _subject_of(req: ApprovalRequest, *, lock: bool = False) -> models.Model | None:
    model = req.content_type.model_class()
    if model is None:
        return None
    qs = model._default_manager.filter(pk=req.object_id)
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _mark_approved(req: ApprovalRequest, *, now, undo_window: bool = True) -> None:
    """pending → approved: fix the execution key and the subject version, enqueue execution.

    With ``undo_window`` (a person's approval) execution waits ``UNDO_SECONDS``; the autopilot's does not.
    """
    subject = _subject_of(req)
    window = app_settings.UNDO_SECONDS if undo_window else 0
    req.status = Status.APPROVED
    req.decided_at = now
    req.execute_after = now + timedelta(seconds=window) if window else None
    req.execution_key = req.execution_key or f"apr-{req.pk}-{uuid.uuid4().hex}"
    req.subject_version = subject_version(subject) if subject is not None else ""
    req.attempts = 0
    req.error = ""
    req.save(
        update_fields=[
            "status",
            "decided_at",
            "execute_after",
            "execution_key",
            "subject_version",
            "attempts",
            "error",
            "final",
            "payload_hash",
            "context",
        ]
    )
    _enqueue_execution(req)


# --- create ------------------------------------------------------------------------------


def _money_error_field(spec: Action) -> str:
    return spec.currency_field or "context.currency"


def _record_version(
    req: ApprovalRequest,
    *,
    source: str,
    author: User | None = None,
    ai_run: Any = None,
    decision: Decision | None = None,
    note: str = "",
    now=None,
) -> PayloadVersion:
    return PayloadVersion.objects.create(
        request=req,
        number=req.version,
        payload=req.final,
        payload_hash=req.payload_hash,
        source=source,
        author=author,
        ai_run=ai_run,
        decision=decision,
        note=note[:5000],
        created_at=now or timezone.now(),
    )


def _autopilot_approve(req: ApprovalRequest, *, expected_hash: str, stats: dict[str, Any], now) -> Decision:
    """Record the autopilot's approval of exactly the payload it evaluated (``expected_hash``)."""
    if expected_hash != req.payload_hash:
        raise PayloadConflict(payload=req.final, payload_hash=req.payload_hash, version=req.version)
    decision = Decision.objects.create(
        request=req,
        reviewer=None,
        is_autopilot=True,
        verdict=Verdict.APPROVE,
        payload_before=req.final,
        payload_after=req.final,
        payload_hash=expected_hash,
        version=req.version,
        stats=stats,
        created_at=now,
    )
    _mark_approved(req, now=now, undo_window=False)
    audit_record(
        verb="auto_approved",
        request=req,
        autopilot=True,
        data={"payload_hash": expected_hash, "version": req.version, **stats},
    )
    return decision


@transaction.atomic
def approval_request_create(
    *,
    action: str,
    subject: models.Model,
    proposal: dict[str, Any],
    requested_by: User | None = None,
    ai_run: Any = None,
    confidence: float | None = None,
    risk: str = "low",
    flags: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Propose ``proposal`` for ``action`` on ``subject``; route it to its reviewers.

    Validates the payload with the action's serializer, matches the most specific policy
    (none: the default reviewer group, one approval), grants the review permission on the
    new request to the policy's groups and users, sets the due time and the number of
    approvals, records version 1 of the payload, audits, lets the autopilot decide when the
    policy allows it, and notifies the reviewers after commit. Raises
    ``InvalidPayload``/``InvalidInput`` for bad input (an unknown currency, or one without
    an exchange rate to a policy's currency, names the currency field) and ``AlreadyOpen``
    when the subject already has an open request for this action.
    """
    spec = get_action(action)
    if subject is None or getattr(subject, "pk", None) is None:
        raise InvalidInput({"subject": "The subject must be a saved object."})
    if risk not in Risk.values:
        raise InvalidInput({"risk": f"Use one of: {', '.join(Risk.values)}."})
    if confidence is not None and not (isinstance(confidence, int | float) and 0 <= confidence <= 1):
        raise InvalidInput({"confidence": "Must be a number between 0 and 1."})
    final = validate_payload(spec, proposal, subject=subject, error=InvalidPayload)
    flag_list = _normalise_flags(flags)
    ctx = _normalise_context(spec, final, context)
    content_type = ContentType.objects.get_for_model(subject)
    open_qs = ApprovalRequest.objects.filter(
        action=action, content_type=content_type, object_id=str(subject.pk), status__in=ApprovalRequest.OPEN_STATUSES
    )
    already = f"{spec.label} for {subject} is already waiting for a decision (or being executed)."
    if open_qs.exists():
        raise AlreadyOpen(already)

    try:
        policy = policy_match(action=action, context=ctx, risk=risk)
    except NoExchangeRate as exc:
        raise InvalidInput({_money_error_field(spec): str(exc)}) from None
    now = timezone.now()
    sla = timedelta(minutes=policy.sla_minutes if policy else app_settings.DEFAULT_SLA_MINUTES)
    req = ApprovalRequest(
        action=action,
        content_type=content_type,
        object_id=str(subject.pk),
        proposal=final,
        final=final,
        payload_hash=payload_hash(final),
        version=1,
        subject_version=subject_version(subject),
        ai_run=ai_run,
        confidence=float(confidence) if confidence is not None else None,
        risk=risk,
        flags=flag_list,
        context=ctx,
        category=ctx["category"],
        required_approvals=policy.required_approvals if policy else 1,
        policy=policy,
        requested_by=requested_by,
        due_at=now + sla,
        sla_due_at=now + sla,
        created_at=now,
    )
    try:
        with transaction.atomic():
            req.save(force_insert=True)
    except IntegrityError:
        if open_qs.exists():  # lost a race with a concurrent create
            raise AlreadyOpen(already) from None
        raise
    _record_version(req, source=PayloadVersion.Source.PROPOSAL, author=requested_by, ai_run=ai_run, now=now)

    groups = list(policy.reviewer_groups.all()) if policy else []
    users = list(policy.reviewer_users.all()) if policy else []
    if not groups and not users:
        groups = _default_group()  # fail closed: someone qualified always gets it
    _grant(req, groups=groups, users=users)
    audit_record(
        verb="created",
        request=req,
        actor=requested_by,
        ai_run=ai_run,
        data={
            "action": action,
            "subject": f"{content_type.app_label}.{content_type.model}:{subject.pk}",
            "payload_hash": req.payload_hash,
            "policy": policy.name if policy else None,
            "groups": sorted(g.name for g in groups),
            "users": sorted(u.get_username() for u in users),
            "required_approvals": req.required_approvals,
            "due_at": req.due_at,
            "risk": risk,
            "confidence": req.confidence,
            "flags": [f["code"] for f in flag_list],
            "context": ctx,
        },
    )

    evaluated_hash = req.payload_hash
    evaluation = autopilot_evaluate(req=req, policy=policy)
    if evaluation is not None and evaluation.approve:
        _autopilot_approve(req, expected_hash=evaluated_hash, stats=evaluation.stats, now=now)
    else:
        if evaluation is not None:
            audit_record(
                verb="autopilot_spot_check" if evaluation.reason == "spot check" else "autopilot_skipped",
                request=req,
                autopilot=True,
                data={"reason": evaluation.reason, **evaluation.stats},
            )
        _enqueue_notification(req, reason="routed")
    _on_commit_status(req, old="")
    return req


# --- decide ------------------------------------------------------------------------------

# Used when a request has no policy (default routing).
DEFAULT_SECOND_REVIEW_EDIT_RATIO = 0.5


def _money_of(spec: Action, req: ApprovalRequest, payload: dict[str, Any]) -> Money | None:
    """The payload's amount as money: its currency field, else the context's, else the policy's currency."""
    if not spec.amount_field or payload.get(spec.amount_field) in (None, ""):
        return None
    amount = to_decimal(payload[spec.amount_field])
    if amount is None:
        return None
    raw = payload.get(spec.currency_field) if spec.currency_field else (req.context or {}).get("currency")
    currency = raw or (req.policy.currency if req.policy is not None else "USD")
    try:
        return Money(amount, currency)
    except MoneyError as exc:
        raise InvalidEdits({_money_error_field(spec): str(exc)}) from None


def _check_authority(req: ApprovalRequest, spec: Action, reviewer: User, final: dict[str, Any]) -> None:
    money = _money_of(spec, req, final)
    if money is None:
        return
    limited, limits = authority_of(policy=req.policy, user=reviewer)
    if not limited:
        return
    if not limits:
        raise AuthorityExceeded(f"Your groups may not approve amounts under “{req.policy}”.")
    try:
        allowed, limit = within_authority(money, limits)
    except NoExchangeRate as exc:
        raise InvalidEdits({_money_error_field(spec): str(exc)}) from None
    if not allowed:
        raise AuthorityExceeded(f"Your approval limit under “{req.policy}” is {limit}; this is {money}.")


def _check_amount_in_policy(req: ApprovalRequest, spec: Action, final: dict[str, Any]) -> None:
    """An edit may not move the amount out of the range the routing policy covers."""
    policy = req.policy
    if policy is None or not spec.amount_field:
        return
    money = _money_of(spec, req, final)
    if money is None:
        return
    try:
        inside = amount_in_range(policy, money)
    except NoExchangeRate as exc:
        raise InvalidEdits({_money_error_field(spec): str(exc)}) from None
    if inside:
        return
    low, high = policy.min_amount, policy.max_amount
    bounds = f"{low if low is not None else '…'} – {high if high is not None else '…'} {policy.currency}"
    raise InvalidEdits(
        {
            spec.amount_field: f"{money} is outside what “{policy}” covers ({bounds}); "
            "reject this and ask for a new request instead."
        }
    )


def _apply_edits(req: ApprovalRequest, spec: Action, edits: dict[str, Any] | None, subject: Any) -> dict[str, Any]:
    if edits in (None, {}):
        return copy.deepcopy(req.final)
    if not isinstance(edits, dict):
        raise InvalidEdits({"edits": "Expected an object of field: value."})
    not_editable = sorted(name for name in edits if name not in spec.editable_fields)
    if not_editable:
        raise InvalidEdits(dict.fromkeys(not_editable, "This field cannot be edited."))
    merged = {**req.final, **edits}
    return validate_payload(spec, merged, subject=subject, error=InvalidEdits)


def _display_value(spec: Action, req: ApprovalRequest, payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if name == spec.amount_field:
        money = _money_of(spec, req, payload)
        if money is not None:
            return money.format()
    if value in (None, ""):
        return "(empty)"
    return value if isinstance(value, str) else canonical_json(value)


def material_changes(
    spec: Action, req: ApprovalRequest, before: dict[str, Any], after: dict[str, Any]
) -> list[dict[str, Any]]:
    """The action's material fields that differ between ``before`` and ``after``, for the record and the UI.

    Each item: ``field``, ``label``, ``before``/``after`` (raw) and ``display`` — e.g.
    "Amount changed from 1,200.00 USD to 400.00 USD".
    """
    out = []
    for name in spec.material_fields:
        if canonical_json(before.get(name)) == canonical_json(after.get(name)):
            continue
        label = name.replace("_", " ").capitalize()
        old, new = _display_value(spec, req, before, name), _display_value(spec, req, after, name)
        out.append(
            {
                "field": name,
                "label": label,
                "before": before.get(name),
                "after": after.get(name),
                "display": f"{label} changed from {old} to {new}",
            }
        )
    return jsonable(out)


def _check_hash(req: ApprovalRequest, sent: str) -> None:
    sent = (sent or "").strip()
    if not sent:
        raise InvalidDecision(
            {"payload_hash": "Required: the payload_hash of the version you reviewed (from the request you opened)."}
        )
    if sent != req.payload_hash:
        raise PayloadConflict(payload=req.final, payload_hash=req.payload_hash, version=req.version, sent_hash=sent)


def _new_version(
    req: ApprovalRequest,
    spec: Action,
    payload: Any,
    *,
    source: str,
    author: User | None,
    ai_run: Any = None,
    decision: Decision | None = None,
    note: str = "",
    now,
) -> bool:
    """Make ``payload`` the request's next version (pending; earlier approvals stop counting).

    False (and nothing changed) when the payload is not valid or repeats a version someone
    already decided on — approvals of that text would otherwise count again.
    """
    try:
        final = validate_payload(spec, payload, subject=req.subject, error=InvalidPayload)
    except InvalidPayload as exc:
        logger.warning("approval %s: new version refused: %s", req.pk, exc)
        return False
    new_hash = payload_hash(final)
    if new_hash == req.payload_hash or req.decisions.filter(payload_hash=new_hash).exists():
        return False
    ctx = req.context
    money_ctx = _normalise_context(spec, final, {k: v for k, v in ctx.items() if k not in {"amount", "currency"}})
    req.final, req.payload_hash, req.version, req.context = final, new_hash, req.version + 1, money_ctx
    req.save(update_fields=["final", "payload_hash", "version", "context"])
    _record_version(req, source=source, author=author, ai_run=ai_run, decision=decision, note=note, now=now)
    return True


def _redraft(req: ApprovalRequest, spec: Action, comment: str) -> tuple[Any, Any]:
    """(payload, ai_run) from the action's redraft hook, or (None, None)."""
    if spec.redraft is None:
        return None, None
    try:
        out = spec.redraft(req, comment)
    except Exception:  # a failed redraft sends the item back to its requester instead
        logger.exception("approval %s: redraft failed", req.pk)
        return None, None
    if isinstance(out, Redrafted):
        return out.payload, out.ai_run
    return out, None


# Complexity 22 (above radon C): every rule of a decision is checked here, under one row lock,
# in the order a reviewer reads them; the pieces that stand alone are already helpers.
@transaction.atomic
def approval_decide(
    *,
    request_id: int,
    reviewer: User,
    verdict: str,
    payload_hash: str,
    edits: dict[str, Any] | None = None,
    reason: str = "",
    comment: str = "",
) -> ApprovalRequest:
    """Record one reviewer's decision on the payload version they saw; approve once enough exist.

    ``payload_hash`` is the hash of the version the reviewer looked at (the request's
    ``payload_hash`` when they opened it): if the payload changed since, nothing is decided
    and ``PayloadConflict`` carries the current version. Re-checks everything under a row
    lock: object permission, state, segregation of duties, one decision per reviewer per
    payload, edits (editable fields only, validated, within the policy's amount range) and
    the reviewer's authority limit, in money (the amount's currency, converted with the
    exchange-rate table; an unconfigured currency is ``InvalidEdits`` naming the field).

    An approval with edits makes a new version, so earlier approvals stop counting. An edit
    of a material field, or one that rewrites more than the policy's
    ``second_review_edit_ratio``, needs one more approval by a different reviewer.
    ``request_changes`` does not reject: the action's redraft hook writes a new version with
    the comment as its instruction (the request stays pending), or the request waits for its
    requester to revise it.
    """
    req = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("policy", "content_type")
        .filter(pk=request_id)
        .first()
    )
    if req is None:
        raise NotAllowed("You are not a reviewer of this request.")  # same answer as "exists, not yours"
    blocker = decide_blocker(request=req, user=reviewer)
    if blocker is not None:
        code, message = blocker
        raise (InvalidState if code in {"not_pending", "already_decided"} else NotAllowed)(message)
    _check_hash(req, payload_hash)
    if verdict not in Verdict.values:
        raise InvalidDecision({"verdict": f"Use one of: {', '.join(Verdict.values)}."})
    if reason and reason not in Decision.Reason.values:
        raise InvalidDecision({"reason": f"Use one of: {', '.join(Decision.Reason.values)}."})
    comment = (comment or "").strip()
    if len(comment) > 5000:
        raise InvalidDecision({"comment": "Keep the comment under 5,000 characters."})
    if verdict == Verdict.REJECT and not reason:
        raise InvalidDecision({"reason": "Say why you reject it."})
    if verdict == Verdict.REQUEST_CHANGES and not comment:
        raise InvalidDecision({"comment": "Say what should change."})

    spec = get_action(req.action)
    subject = req.subject
    before = copy.deepcopy(req.final)
    now = timezone.now()
    approving = verdict in Decision.APPROVING
    material: list[dict[str, Any]] = []
    second = ""
    ratio = 0.0
    if approving:
        after = _apply_edits(req, spec, edits, subject)
        diff = payload_diff(before, after)
        if diff:
            _check_amount_in_policy(req, spec, after)
            material = material_changes(spec, req, before, after)
            ratio = edit_ratio(before, after)
            threshold = (
                req.policy.second_review_edit_ratio if req.policy is not None else DEFAULT_SECOND_REVIEW_EDIT_RATIO
            )
            if material:
                second = Decision.SecondReview.MATERIAL
            elif ratio > threshold:
                second = Decision.SecondReview.REWRITE
        _check_authority(req, spec, reviewer, after)
        verdict = Verdict.APPROVE_WITH_EDITS if diff else Verdict.APPROVE
    else:
        after, diff = before, {}
    after_hash = payload_hash_of(after)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                request=req,
                reviewer=reviewer,
                verdict=verdict,
                payload_before=before,
                payload_after=after,
                payload_hash=after_hash,
                version=req.version + 1 if diff else req.version,
                diff=diff,
                edit_ratio=ratio,
                material=material,
                second_review=second,
                reason=reason,
                comment=comment,
                created_at=now,
            )
    except IntegrityError:
        raise InvalidState("You have already decided on this request.") from None

    old = req.status
    redrafted = False
    if approving:
        if diff:
            req.final, req.payload_hash, req.version = after, after_hash, req.version + 1
            if spec.amount_field and after.get(spec.amount_field) not in (None, ""):
                req.context = {**req.context, "amount": str(to_decimal(after[spec.amount_field]))}
                if spec.currency_field and after.get(spec.currency_field):
                    req.context["currency"] = str(after[spec.currency_field])
            _record_version(req, source=PayloadVersion.Source.EDIT, author=reviewer, decision=decision, now=now)
        count = req.decisions.standing().filter(verdict__in=Decision.APPROVING, payload_hash=req.payload_hash).count()
        if second:
            # The editor's approval counts once; someone else must look at what they wrote.
            req.required_approvals = max(req.required_approvals, count + 1)
        if count >= req.required_approvals:
            _mark_approved(req, now=now)
            req.save(update_fields=["required_approvals", "version"])
        else:
            req.save(update_fields=["final", "payload_hash", "context", "version", "required_approvals"])
    elif verdict == Verdict.REQUEST_CHANGES:
        count = 0
        if spec.redraft is not None:
            # The AI may be a network call: it runs after this transaction, with no lock held.
            from approvals.tasks import approval_redraft_task

            approval_redraft_task.delay_on_commit(req.pk, decision.pk)
            redrafted = True
    else:
        count = 0
        req.status = Status.REJECTED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at"])
    audit_record(
        verb="decided",
        request=req,
        actor=reviewer,
        data={
            "decision": decision.pk,
            "verdict": verdict,
            "reason": decision.reason,
            "comment": comment[:500],
            "edited_fields": sorted(diff),
            "edit_ratio": decision.edit_ratio,
            "material": [m["field"] for m in material],
            "second_review": second,
            "decided_hash": payload_hash,
            "payload_hash": req.payload_hash,
            "version": req.version,
            "redraft_queued": redrafted,
            "approvals": count,
            "required": req.required_approvals,
            "status": req.status,
            "execute_after": req.execute_after if req.status == Status.APPROVED else None,
        },
    )
    if req.policy is not None and req.policy.autopilot_enabled:
        autopilot_refresh(policy=req.policy, action=req.action, category=req.category)
    _on_commit_status(req, old=old)
    # The reviewer's badge drops at once; other reviewers' badges catch up within the counter window.
    transaction.on_commit(lambda: forget(pending_count_name(), user_id=reviewer.pk))
    return req


# --- undo window ---------------------------------------------------------------------------

UNDO_PERMISSION = "approvals.cancel_approvalrequest"  # managers may undo anyone's approval


def _standing_approvals(req: ApprovalRequest) -> models.QuerySet[Decision]:
    return req.decisions.standing().filter(
        verdict__in=Decision.APPROVING, payload_hash=req.payload_hash, is_autopilot=False
    )


def approval_undo_blocker(*, req: ApprovalRequest, actor: User | None, now=None) -> tuple[str, str] | None:
    """Why ``actor`` may not undo the approval of ``req`` now: ``(code, message)``, or None if they may.

    Codes: ``no_permission`` (neither an approver of the current payload nor a manager),
    ``too_late`` (the window has passed or execution was claimed), ``not_approved``.
    The UI asks this to show the Undo button; :func:`approval_undo` raises on the same answers.
    """
    now = now or timezone.now()
    if actor is None or not actor.is_active:
        return "no_permission", "You may not undo this approval."
    own = _standing_approvals(req).filter(reviewer=actor).exists()
    if not own and not has_permission(actor, UNDO_PERMISSION):
        return "no_permission", "Only the person who approved this (or a manager) can undo it."
    if req.status in (Status.EXECUTING, Status.EXECUTED, Status.FAILED):
        return "too_late", "Too late to undo: it is already being carried out (or was)."
    if req.status != Status.APPROVED:
        return "not_approved", f"This request is {req.get_status_display().lower()}; there is no approval to undo."
    if req.execute_after is None or req.execute_after <= now:
        return "too_late", "Too late to undo: the undo window has closed and it is being carried out."
    return None


@transaction.atomic
def approval_undo(*, request_id: int, actor: User) -> ApprovalRequest:
    """Take an approval back in the undo window: approved → pending, before execution is claimed.

    The approver undoes their own approval; a holder of ``approvals.cancel_approvalrequest`` (a
    manager) undoes the latest one. The decision row is kept, marked ``undone_at``/``undone_by``:
    it stops counting (an M-of-N request needs that approval again) and its reviewer may decide
    the same version again. A reviewer's edits stay the current version. Audited as
    ``approval.undone``. ``NotAllowed`` for anyone else; ``InvalidState`` once the window has
    passed or the executor has claimed the request. The claim is a conditional update of the
    same row (``status='approved' AND execute_after <= now``), so when an undo races the
    executor exactly one of them wins.
    """
    req = ApprovalRequest.objects.select_for_update(of=("self",)).filter(pk=request_id).first()
    if req is None:
        raise NotAllowed("You may not undo this approval.")
    now = timezone.now()  # read under the lock: the executor's claim compares the same column
    blocker = approval_undo_blocker(req=req, actor=actor, now=now)
    if blocker is not None:
        code, message = blocker
        raise (NotAllowed if code == "no_permission" else InvalidState)(message)
    approvals = _standing_approvals(req).order_by("-created_at", "-id")
    decision = approvals.filter(reviewer=actor).first() or approvals.first()
    if decision is None:  # an approved request always has one; fail closed anyway
        raise InvalidState("There is no approval by a person to undo.")
    decision.undone_at, decision.undone_by = now, actor
    decision.save(update_fields=["undone_at", "undone_by"])
    window_end = req.execute_after
    req.status = Status.PENDING
    req.decided_at = None
    req.execute_after = None
    req.save(update_fields=["status", "decided_at", "execute_after"])
    audit_record(
        verb="approval.undone",
        request=req,
        actor=actor,
        data={
            "decision": decision.pk,
            "reviewer": decision.reviewer_id,
            "verdict": decision.verdict,
            "by_approver": decision.reviewer_id == actor.pk,
            "payload_hash": req.payload_hash,
            "version": req.version,
            "window_end": window_end,
            "approvals": approvals.count() - 1,
            "required": req.required_approvals,
        },
    )
    _on_commit_status(req, old=Status.APPROVED)
    return req


# --- bulk decisions ------------------------------------------------------------------------

BULK_MAX_ITEMS = 100


def approval_bulk_blocker(*, req: ApprovalRequest) -> str:
    """Why ``req`` may not be decided in bulk ("" if it may): only pending low-risk items that move no money.

    Everything else needs its own page (the confirmation of an amount, the risk warnings).
    """
    if req.status != Status.PENDING:
        return f"#{req.pk} is {req.get_status_display().lower()}."
    if req.risk != Risk.LOW:
        return f"#{req.pk} is {req.get_risk_display().lower()} risk: open it and decide it on its own."
    if req.amount is not None or approval_money(request=req) is not None:
        return f"#{req.pk} moves money: open it and check the amount."
    return ""


@dataclass
class BulkOutcome:
    """What a bulk decision did: the ids decided and ``(id, why)`` for each item skipped."""

    verdict: str
    decided: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """E.g. "7 approved, 1 skipped: #12: You have already decided on this request." """
        done = "approved" if self.verdict == Verdict.APPROVE else "rejected"
        text = f"{len(self.decided)} {done}"
        if self.skipped:
            text += f", {len(self.skipped)} skipped: " + "; ".join(f"#{pk}: {why}" for pk, why in self.skipped)
        return text


def approval_decide_bulk(
    *,
    reviewer: User,
    verdict: str,
    items: Sequence[tuple[int, str]],
    reason: str = "",
    comment: str = "",
) -> BulkOutcome:
    """Approve or reject several low-risk requests of one action, each as its own decision.

    ``items`` are ``(request_id, payload_hash)`` pairs, the hash being the version the reviewer
    saw in the queue. Refuses the whole batch (``InvalidInput`` naming ``items``) when it mixes
    actions or holds an item :func:`approval_bulk_blocker` refuses. Otherwise each item goes
    through :func:`approval_decide` in its own transaction — the same permission, segregation of
    duties, payload check and authority as deciding it alone; an item it refuses is skipped with
    the reason, and the others are decided.
    """
    from approvals.selectors import approval_visible_to

    if verdict not in (Verdict.APPROVE, Verdict.REJECT):
        raise InvalidDecision({"verdict": "Bulk decisions approve or reject."})
    if reason and reason not in Decision.Reason.values:
        raise InvalidDecision({"reason": f"Use one of: {', '.join(Decision.Reason.values)}."})
    if verdict == Verdict.REJECT and not reason:
        raise InvalidDecision({"reason": "Say why you reject them."})
    hashes = dict(items)  # one entry per request
    if not hashes:
        raise InvalidInput({"items": "Select at least one item."})
    if len(hashes) > BULK_MAX_ITEMS:
        raise InvalidInput({"items": f"Select at most {BULK_MAX_ITEMS} items at once."})
    found = {req.pk: req for req in approval_visible_to(user=reviewer).filter(pk__in=list(hashes))}
    actions = sorted({req.action for req in found.values()})
    if len(actions) > 1:
        labels = ", ".join(sorted({req.action_spec.label for req in found.values()}))
        raise InvalidInput(
            {"items": f"Select items of one action only (these are: {labels}). Filter the queue by action first."}
        )
    refused = [why for req in found.values() if (why := approval_bulk_blocker(req=req))]
    if refused:
        raise InvalidInput(
            {"items": "Bulk decisions are for pending low-risk items that move no money. " + " ".join(refused)}
        )
    outcome = BulkOutcome(verdict=verdict)
    for request_id, sent_hash in hashes.items():
        if request_id not in found:
            outcome.skipped.append((request_id, "You are not a reviewer of this request."))
            continue
        try:
            approval_decide(
                request_id=request_id,
                reviewer=reviewer,
                verdict=verdict,
                payload_hash=sent_hash,
                reason=reason,
                comment=comment,
            )
        except PayloadConflict:
            outcome.skipped.append((request_id, "It changed since the page was loaded; open it and decide again."))
        except ApprovalError as exc:
            outcome.skipped.append((request_id, str(exc)))
        else:
            outcome.decided.append(request_id)
    return outcome


def approval_redraft(*, request_id: int, decision_id: int) -> ApprovalRequest | None:
    """Write the next version of a request a reviewer sent back with "request changes".

    Calls the action's redraft hook (the AI) with no transaction or row lock open, then, under
    the request's lock, makes the result the next version only if the request is still pending
    at the version the reviewer saw; otherwise the redraft is dropped (someone else moved the
    request on). A failed redraft leaves the request pending for its requester. Idempotent: a
    second run for the same decision finds the version already moved on and does nothing.
    """
    decision = Decision.objects.select_related("request").filter(pk=decision_id, request_id=request_id).first()
    if decision is None or decision.verdict != Verdict.REQUEST_CHANGES:
        return None
    req = decision.request
    if req.status != Status.PENDING or req.payload_hash != decision.payload_hash:
        return req
    spec = get_action(req.action)
    payload, ai_run = _redraft(req, spec, decision.comment)
    if payload is None:
        return req
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("policy").get(pk=request_id)
        if req.status != Status.PENDING or req.payload_hash != decision.payload_hash:
            return req  # the reviewer's version is gone: never apply a redraft to a newer one
        if _new_version(
            req,
            spec,
            payload,
            source=PayloadVersion.Source.REDRAFT,
            author=None,
            ai_run=ai_run,
            decision=decision,
            note=decision.comment,
            now=timezone.now(),
        ):
            audit_record(
                verb="redrafted",
                request=req,
                ai_run=ai_run if hasattr(ai_run, "pk") else None,
                data={"decision": decision.pk, "version": req.version, "payload_hash": req.payload_hash},
            )
            _enqueue_notification(req, reason="redrafted")
    return req


@transaction.atomic
def approval_request_revise(
    *, request_id: int, actor: User | None, payload: dict[str, Any], note: str = ""
) -> ApprovalRequest:
    """The requester's new version of a pending request (after "request changes"), under the same request.

    Only the requester (or, for system callers, ``actor=None``) may revise. The request
    stays pending with the next version; approvals of earlier versions stop counting.
    Raises ``InvalidPayload`` when the payload does not validate or repeats a decided version.
    """
    req = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("policy").filter(pk=request_id).first()
    if req is None or (actor is not None and req.requested_by_id != actor.pk and not actor.is_superuser):
        raise NotAllowed("Only the requester can revise this request.")
    if req.status != Status.PENDING:
        raise InvalidState(f"This request is {req.get_status_display().lower()}; it can no longer be revised.")
    spec = get_action(req.action)
    validate_payload(spec, payload, subject=req.subject, error=InvalidPayload)
    now = timezone.now()
    if not _new_version(req, spec, payload, source=PayloadVersion.Source.REVISION, author=actor, note=note, now=now):
        raise InvalidPayload({"payload": "This is the same as a version already reviewed; change something."})
    audit_record(
        verb="revised",
        request=req,
        actor=actor,
        data={"payload_hash": req.payload_hash, "version": req.version, "note": (note or "")[:500]},
    )
    _enqueue_notification(req, reason="revised")
    return req


# --- execute -----------------------------------------------------------------------------


# Claim, prepare, deliver, complete and the reaper live in approvals.execution; they are
# importable from here too (see __getattr__ at the end of this module).


@transaction.atomic
def approval_requeue(*, request_id: int, actor: User) -> ApprovalRequest:
    """failed → approved again, re-enqueued and audited. Needs ``approvals.requeue_approvalrequest``.

    The executor re-checks the payload, approvals and subject version as on the first try,
    and hands the handler the same execution key (so a message that did go out is not sent
    twice by an idempotent channel).
    """
    if not (actor and actor.is_active and actor.has_perm("approvals.requeue_approvalrequest")):
        raise NotAllowed("You may not re-queue approval requests.")
    req = ApprovalRequest.objects.select_for_update(of=("self",)).filter(pk=request_id).first()
    if req is None:
        raise InvalidState("No such request.")
    if req.status != Status.FAILED:
        raise InvalidState(f"Only failed requests can be re-queued; this one is {req.get_status_display().lower()}.")
    req.status = Status.APPROVED
    req.attempts = 0
    req.claim_token = ""
    req.save(update_fields=["status", "attempts", "claim_token"])
    audit_record(verb="requeued", request=req, actor=actor, data={"previous_error": req.error[:500]})
    _enqueue_execution(req)
    _on_commit_status(req, old=Status.FAILED)
    return req


@transaction.atomic
def approval_cancel(*, request_id: int, actor: User | None, reason: str = "") -> ApprovalRequest:
    """pending/approved → cancelled. Allowed to holders of ``approvals.cancel_approvalrequest``,
    to the requester, and to the system (``actor=None``, e.g. a feature app whose subject moved on).
    """
    req = ApprovalRequest.objects.select_for_update(of=("self",)).filter(pk=request_id).first()
    if req is None:
        raise InvalidState("No such request.")
    if actor is not None:
        own = req.requested_by_id is not None and req.requested_by_id == actor.pk
        if not (actor.is_active and (own or actor.has_perm("approvals.cancel_approvalrequest"))):
            raise NotAllowed("You may not cancel this request.")
    if req.status not in (Status.PENDING, Status.APPROVED):
        raise InvalidState(f"This request is {req.get_status_display().lower()}; it can no longer be cancelled.")
    old = req.status
    req.status = Status.CANCELLED
    req.decided_at = req.decided_at or timezone.now()
    req.save(update_fields=["status", "decided_at"])
    audit_record(verb="cancelled", request=req, actor=actor, data={"reason": (reason or "")[:500], "was": old})
    _on_commit_status(req, old=old)
    return req


# --- escalation and reaping (beat) --------------------------------------------------------


def _escalate_one(request_id: int, now) -> bool:
    with transaction.atomic():
        req = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .select_related("policy__escalation_group")
            .filter(pk=request_id, status=Status.PENDING, due_at__lt=now)
            .first()
        )
        if req is None:
            return False
        if req.escalation_level >= app_settings.MAX_ESCALATIONS:
            req.status = Status.EXPIRED
            req.decided_at = now
            req.save(update_fields=["status", "decided_at"])
            audit_record(verb="expired", request=req, data={"escalation_level": req.escalation_level})
            _on_commit_status(req, old=Status.PENDING)
            return True
        policy: ApprovalPolicy | None = req.policy
        group = policy.escalation_group if policy and policy.escalation_group_id else None
        groups = [group] if group else _default_group()
        _grant(req, groups=groups)
        sla = timedelta(minutes=policy.sla_minutes if policy else app_settings.DEFAULT_SLA_MINUTES)
        req.escalation_level += 1
        req.due_at = now + sla
        req.overdue_rank = overdue_rank_of(req.due_at, now)  # due again later: out of the queue's overdue part
        req.save(update_fields=["escalation_level", "due_at", "overdue_rank"])
        audit_record(
            verb="escalated",
            request=req,
            data={"level": req.escalation_level, "groups": [g.name for g in groups], "due_at": req.due_at},
        )
        _enqueue_notification(req, reason="escalated", group_ids=[g.pk for g in groups])
        return True


def refresh_overdue(*, now=None) -> int:
    """Keep ``overdue_rank`` (the review queue's "overdue first") in step with the clock.

    A request turns overdue by time passing, which no write sees: pending requests whose due time
    has passed get 0, and any whose due time was moved into the future get 1 again. Two UPDATEs
    that touch only the rows that change; run by beat every minute and from the queue selector at
    most once a minute (:func:`approvals.selectors.approval_queue_for`). Returns the rows changed.
    """
    now = now or timezone.now()
    pending = ApprovalRequest.objects.filter(status=Status.PENDING)
    turned = pending.filter(overdue_rank=1, due_at__lt=now).update(overdue_rank=0)
    back = pending.filter(overdue_rank=0, due_at__gte=now).update(overdue_rank=1)
    return turned + back


def approval_escalate_overdue(*, now=None, batch: int = 500) -> int:
    """Escalate overdue pending requests (grant the escalation group, bump the level, notify);
    past ``MAX_ESCALATIONS`` they expire. Never approves. One transaction per request.
    Returns how many requests were escalated or expired.
    """
    now = now or timezone.now()
    ids = list(
        ApprovalRequest.objects.filter(status=Status.PENDING, due_at__lt=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:batch]
    )
    return sum(_escalate_one(request_id, now) for request_id in ids)


def approval_escalate_now(*, request_id: int, actor: User) -> ApprovalRequest:
    """Send a pending request to the escalation group (else the default reviewer group) at once.

    For a reviewer who may not decide it (an amount above their authority): the group gets
    the review permission and an email, the level goes up, the due time stays. Only a
    reviewer of the request may do this; ``NotAllowed`` otherwise, ``InvalidState`` when it
    is no longer pending.
    """
    from approvals.selectors import user_may_review

    if not user_may_review(user=actor, request_id=request_id):
        raise NotAllowed("You are not a reviewer of this request.")
    with transaction.atomic():
        req = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .select_related("policy__escalation_group")
            .filter(pk=request_id)
            .first()
        )
        if req is None:
            raise NotAllowed("You are not a reviewer of this request.")
        if req.status != Status.PENDING:
            raise InvalidState(f"This request is {req.get_status_display().lower()}; it can no longer be escalated.")
        policy: ApprovalPolicy | None = req.policy
        group = policy.escalation_group if policy and policy.escalation_group_id else None
        groups = [group] if group else _default_group()
        _grant(req, groups=groups)
        req.escalation_level += 1
        req.save(update_fields=["escalation_level"])
        audit_record(
            verb="escalated",
            request=req,
            actor=actor,
            data={"level": req.escalation_level, "groups": [g.name for g in groups], "by_reviewer": True},
        )
        _enqueue_notification(req, reason="escalated", group_ids=[g.pk for g in groups])
    return req


__all__ = [
    "approval_cancel",
    "approval_decide",
    "approval_decide_bulk",
    "approval_undo",
    "approval_escalate_now",
    "approval_escalate_overdue",
    "approval_execute",  # noqa: F822 (lazy, from approvals.execution)
    "approval_reap_stuck",  # noqa: F822
    "approval_redraft",
    "approval_request_create",
    "approval_requeue",
    "refresh_overdue",
    "validate_payload",
]

_EXECUTION = frozenset({"approval_execute", "approval_reap_stuck", "approval_delivery_resolved", "StagedHandler"})


def __getattr__(name: str) -> Any:
    # Lazy, because approvals.execution imports this module's helpers.
    if name in _EXECUTION:
        from approvals import execution

        return getattr(execution, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Every change to approvals goes through here, whoever calls: UI, API, admin, tasks, shell.

The invariant (DESIGN.md §1): a handler runs only for a request in ``approved`` state,
approved by enough qualified humans (or the autopilot) for exactly the payload it runs,
against the subject version seen at decision time, and at most once.
"""

from __future__ import annotations

import copy
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from approvals.audit import audit_record
from approvals.autopilot import autopilot_evaluate, autopilot_refresh
from approvals.conf import app_settings
from approvals.exceptions import (
    AlreadyOpen,
    AuthorityExceeded,
    ExecutionInProgress,
    InvalidDecision,
    InvalidEdits,
    InvalidInput,
    InvalidPayload,
    InvalidState,
    NotAllowed,
    TransientError,
    TransientExecutionError,
    UnknownAction,
)
from approvals.models import (
    REVIEW_PERMISSION,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    Decision,
    Risk,
)
from approvals.payloads import edit_ratio, jsonable, payload_diff, payload_hash, subject_version
from approvals.policies import authority_of, policy_match, to_decimal
from approvals.registry import Action, get_action
from approvals.selectors import decide_blocker
from approvals.signals import approval_status_changed

logger = logging.getLogger(__name__)

Status = ApprovalRequest.Status
Verdict = Decision.Verdict
# The AI engine speaks low/medium/high (like risk); older callers say info/warning.
FLAG_SEVERITIES = ("info", "low", "warning", "medium", "high", "critical")


# --- helpers -----------------------------------------------------------------------------


def _first_messages(errors: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error structure as ``{"field": "first message"}`` (dotted paths for nesting)."""
    if isinstance(errors, dict):
        out: dict[str, str] = {}
        for key, value in errors.items():
            out.update(_first_messages(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(errors, list) and errors and any(isinstance(item, dict | list) for item in errors):
        out = {}
        for index, item in enumerate(errors):
            out.update(_first_messages(item, f"{prefix}[{index}]"))
        return out
    if isinstance(errors, list):
        return {prefix or "non_field_errors": str(errors[0]) if errors else "Invalid."}
    return {prefix or "non_field_errors": str(errors)}


def validate_payload(spec: Action, payload: Any, *, subject: models.Model, error: type[InvalidPayload]) -> dict:
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


def _grant(req: ApprovalRequest, *, groups: list[Group] = (), users: list[AbstractBaseUser] = ()) -> None:
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
    from approvals.tasks import approval_execute_task

    approval_execute_task.delay_on_commit(req.pk)


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


def _mark_approved(req: ApprovalRequest, *, now) -> None:
    """pending → approved: fix the execution key and the subject version, enqueue execution."""
    subject = _subject_of(req)
    req.status = Status.APPROVED
    req.decided_at = now
    req.execution_key = req.execution_key or f"apr-{req.pk}-{uuid.uuid4().hex}"
    req.subject_version = subject_version(subject) if subject is not None else ""
    req.attempts = 0
    req.error = ""
    req.save(
        update_fields=[
            "status",
            "decided_at",
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


@transaction.atomic
def approval_request_create(
    *,
    action: str,
    subject: models.Model,
    proposal: dict[str, Any],
    requested_by: AbstractBaseUser | None = None,
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
    approvals, audits, lets the autopilot decide when the policy allows it, and notifies the
    reviewers after commit. Raises ``InvalidPayload``/``InvalidInput`` for bad input and
    ``AlreadyOpen`` when the subject already has an open request for this action.
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

    policy = policy_match(action=action, context=ctx, risk=risk)
    now = timezone.now()
    sla = timedelta(minutes=policy.sla_minutes if policy else app_settings.DEFAULT_SLA_MINUTES)
    req = ApprovalRequest(
        action=action,
        content_type=content_type,
        object_id=str(subject.pk),
        proposal=final,
        final=final,
        payload_hash=payload_hash(final),
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

    evaluation = autopilot_evaluate(req=req, policy=policy)
    if evaluation is not None and evaluation.approve:
        Decision.objects.create(
            request=req,
            reviewer=None,
            is_autopilot=True,
            verdict=Verdict.APPROVE,
            payload_before=req.final,
            payload_after=req.final,
            payload_hash=req.payload_hash,
            stats=evaluation.stats,
            created_at=now,
        )
        _mark_approved(req, now=now)
        audit_record(
            verb="auto_approved",
            request=req,
            autopilot=True,
            data={"payload_hash": req.payload_hash, **evaluation.stats},
        )
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


def _check_authority(req: ApprovalRequest, spec: Action, reviewer: AbstractBaseUser, final: dict[str, Any]) -> None:
    if not spec.amount_field or final.get(spec.amount_field) in (None, ""):
        return
    amount = to_decimal(final[spec.amount_field])
    limited, limit = authority_of(policy=req.policy, user=reviewer)
    if not limited or amount is None:
        return
    if limit is None:
        raise AuthorityExceeded(f"Your groups may not approve amounts under “{req.policy}”.")
    if amount > limit:
        raise AuthorityExceeded(f"Your approval limit under “{req.policy}” is {limit:,.2f}; this is {amount:,.2f}.")


def _check_amount_in_policy(req: ApprovalRequest, spec: Action, final: dict[str, Any]) -> None:
    """An edit may not move the amount out of the range the routing policy covers."""
    policy = req.policy
    if policy is None or not spec.amount_field:
        return
    amount = to_decimal(final.get(spec.amount_field))
    low, high = policy.min_amount, policy.max_amount
    if amount is None or (low is None or amount >= low) and (high is None or amount <= high):
        return
    bounds = f"{low if low is not None else '…'} – {high if high is not None else '…'}"
    raise InvalidEdits(
        {
            spec.amount_field: f"{amount:,.2f} is outside what “{policy}” covers ({bounds}); "
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


@transaction.atomic
def approval_decide(
    *,
    request_id: int,
    reviewer: AbstractBaseUser,
    verdict: str,
    edits: dict[str, Any] | None = None,
    reason: str = "",
    comment: str = "",
) -> ApprovalRequest:
    """Record one reviewer's decision; approve (and enqueue execution) once enough exist.

    Re-checks everything under a row lock: object permission, state, segregation of duties
    (the requester and the subject's owner cannot decide), one decision per reviewer per
    payload, edits (editable fields only, validated by the action's serializer, within the
    policy's amount range) and the reviewer's authority limit. An approval with edits changes
    the payload, so earlier approvals of the old text stop counting towards M-of-N.
    ``approve`` with real changes is recorded as ``approve_with_edits``; ``approve_with_edits``
    without changes as ``approve``.
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
    if approving:
        after = _apply_edits(req, spec, edits, subject)
        diff = payload_diff(before, after)
        if diff:
            _check_amount_in_policy(req, spec, after)
        _check_authority(req, spec, reviewer, after)
        verdict = Verdict.APPROVE_WITH_EDITS if diff else Verdict.APPROVE
    else:
        after, diff = before, {}
    after_hash = payload_hash(after)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                request=req,
                reviewer=reviewer,
                verdict=verdict,
                payload_before=before,
                payload_after=after,
                payload_hash=after_hash,
                diff=diff,
                edit_ratio=edit_ratio(before, after) if diff else 0.0,
                reason=reason,
                comment=comment,
                created_at=now,
            )
    except IntegrityError:
        raise InvalidState("You have already decided on this request.") from None

    old = req.status
    if approving:
        if diff:
            req.final, req.payload_hash = after, after_hash
            if spec.amount_field and after.get(spec.amount_field) not in (None, ""):
                req.context = {**req.context, "amount": str(to_decimal(after[spec.amount_field]))}
        count = req.decisions.filter(verdict__in=Decision.APPROVING, payload_hash=req.payload_hash).count()
        if count >= req.required_approvals:
            _mark_approved(req, now=now)
        else:
            req.save(update_fields=["final", "payload_hash", "context"])
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
            "payload_hash": req.payload_hash,
            "approvals": count,
            "required": req.required_approvals,
            "status": req.status,
        },
    )
    if req.policy is not None and req.policy.autopilot_enabled:
        autopilot_refresh(policy=req.policy, action=req.action, category=req.category)
    _on_commit_status(req, old=old)
    return req


# --- execute -----------------------------------------------------------------------------


class _Refused(Exception):
    """The executor will not run this payload (terminal; no handler call)."""


class _ClaimLost(Exception):
    """Someone else took over this execution; roll back whatever we did."""


def _claim(request_id: int, token: str) -> bool:
    with transaction.atomic():
        claimed = ApprovalRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(
            status=Status.EXECUTING, claim_token=token, claimed_at=timezone.now(), attempts=models.F("attempts") + 1
        )
        if claimed == 1:
            req = ApprovalRequest.objects.get(pk=request_id)
            audit_record(verb="execution_started", request=req, data={"attempt": req.attempts})
            _on_commit_status(req, old=Status.APPROVED)
    return claimed == 1


def _release_dead_claim(request_id: int, *, older_than: timedelta | None) -> bool:
    """executing → approved when no live worker holds the claim; True if released.

    On PostgreSQL a running handler holds the request's row lock for its whole run, so a
    row we can lock with SKIP LOCKED has no live handler, whatever its age. Elsewhere
    (SQLite) only the claim's age tells: it must exceed the task time limit.
    """
    now = timezone.now()
    with transaction.atomic():
        qs = ApprovalRequest.objects.filter(pk=request_id, status=Status.EXECUTING)
        if older_than is not None:
            qs = qs.filter(claimed_at__lt=now - older_than)
        if connection.features.has_select_for_update_skip_locked:
            req = qs.select_for_update(skip_locked=True).first()
        else:
            lease = timedelta(seconds=app_settings.EXECUTION_LEASE_SECONDS)
            req = qs.filter(claimed_at__lt=now - max(lease, older_than or lease)).first()
        if req is None:
            return False
        if req.attempts >= app_settings.MAX_ATTEMPTS:
            req.status = Status.FAILED
            req.error = (
                f"Execution did not finish after {req.attempts} attempts (worker lost or timed out). "
                "Check whether the action took effect before re-queueing it."
            )
            req.claim_token = ""
            req.save(update_fields=["status", "error", "claim_token"])
            audit_record(verb="execution_failed", request=req, data={"attempts": req.attempts, "error": req.error})
            _on_commit_status(req, old=Status.EXECUTING)
            return False
        req.status = Status.APPROVED
        req.claim_token = ""
        req.save(update_fields=["status", "claim_token"])
        audit_record(verb="claim_released", request=req, data={"attempts": req.attempts, "claimed_at": req.claimed_at})
        _on_commit_status(req, old=Status.EXECUTING)
        return True


def _verify_and_run(request_id: int, token: str) -> ApprovalRequest:
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("content_type").get(pk=request_id)
        if req.status != Status.EXECUTING or req.claim_token != token:
            raise _ClaimLost
        try:
            spec = get_action(req.action)
        except UnknownAction as exc:
            raise _Refused(str(exc)) from None
        if payload_hash(req.final) != req.payload_hash:
            raise _Refused("The approved payload was changed after approval, so it was not executed.")
        approvals = req.decisions.filter(verdict__in=Decision.APPROVING, payload_hash=req.payload_hash)
        by_autopilot = approvals.filter(is_autopilot=True).exists()
        humans = approvals.filter(reviewer__isnull=False).values("reviewer").distinct().count()
        if not by_autopilot and humans < req.required_approvals:
            raise _Refused(
                f"This payload has {humans} of {req.required_approvals} required approvals, so it was not executed."
            )
        subject = _subject_of(req, lock=True)
        if subject is None:
            raise _Refused("The subject of this request no longer exists, so it was not executed.")
        if subject_version(subject) != req.subject_version:
            raise _Refused(
                f"{subject} changed after approval, so it was not executed. "
                "Create a new request for the current version."
            )
        req.subject = subject
        result = spec.handler(req, copy.deepcopy(req.final))
        result = jsonable(result if isinstance(result, dict) else {"value": result})
        done = ApprovalRequest.objects.filter(pk=request_id, status=Status.EXECUTING, claim_token=token).update(
            status=Status.EXECUTED, executed_at=timezone.now(), result=result, error="", claim_token=""
        )
        if done != 1:
            raise _ClaimLost
        req.refresh_from_db()
        audit_record(
            verb="executed",
            request=req,
            data={"attempt": req.attempts, "execution_key": req.execution_key, "result": result},
        )
        _on_commit_status(req, old=Status.EXECUTING)
        return req


def _fail(request_id: int, token: str, *, error: str, verb: str) -> ApprovalRequest:
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request_id)
        if req.status == Status.EXECUTING and req.claim_token == token:
            req.status = Status.FAILED
            req.error = error[:5000]
            req.claim_token = ""
            req.save(update_fields=["status", "error", "claim_token"])
            audit_record(verb=verb, request=req, data={"attempt": req.attempts, "error": req.error})
            _on_commit_status(req, old=Status.EXECUTING)
        return req


def _retry_later(request_id: int, token: str, exc: Exception) -> tuple[ApprovalRequest, bool]:
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request_id)
        if req.status != Status.EXECUTING or req.claim_token != token:
            return req, False
        if req.attempts >= app_settings.MAX_ATTEMPTS:
            req.status = Status.FAILED
            req.error = f"Gave up after {req.attempts} attempts: {exc}"[:5000]
            verb = "execution_failed"
        else:
            req.status = Status.APPROVED
            req.error = f"Attempt {req.attempts} failed, will retry: {exc}"[:5000]
            verb = "execution_retry"
        req.claim_token = ""
        req.save(update_fields=["status", "error", "claim_token"])
        audit_record(verb=verb, request=req, data={"attempt": req.attempts, "error": str(exc)[:500]})
        _on_commit_status(req, old=Status.EXECUTING)
        return req, req.status == Status.APPROVED


def approval_execute(*, request_id: int) -> ApprovalRequest:
    """Run the handler of an approved request, at most once.

    1. Claim: ``UPDATE … SET status='executing' WHERE id=… AND status='approved'`` must
       hit one row (committed, so everyone sees the claim).
    2. Under the request's row lock and the subject's row lock: refuse (→ failed, no handler
       call) if the payload hash, the approvals or the subject version do not match; run the
       handler with the approved payload; mark executed — all in one transaction, so the
       handler's own database writes commit with the status or not at all.
    3. A ``TransientError`` from the handler puts the request back to ``approved`` and
       raises ``TransientExecutionError`` for the task to retry with backoff (up to
       ``MAX_ATTEMPTS``); any other error marks it ``failed`` for a human to re-queue.

    Any other state is a no-op (returned unchanged), so duplicate deliveries are harmless. A
    claim left by a dead worker is released and re-claimed; a live one raises
    ``ExecutionInProgress``. Manages its own transactions: do not call it inside one.
    """
    token = uuid.uuid4().hex
    if not _claim(request_id, token):
        req = ApprovalRequest.objects.get(pk=request_id)
        if req.status != Status.EXECUTING:
            return req
        if not (_release_dead_claim(request_id, older_than=None) and _claim(request_id, token)):
            req.refresh_from_db()
            if req.status == Status.EXECUTING:
                raise ExecutionInProgress(f"Request #{request_id} is being executed by another worker.")
            return req
    try:
        return _verify_and_run(request_id, token)
    except _ClaimLost:
        return ApprovalRequest.objects.get(pk=request_id)
    except _Refused as refusal:
        return _fail(request_id, token, error=str(refusal), verb="execution_refused")
    except TransientError as exc:
        req, will_retry = _retry_later(request_id, token, exc)
        if will_retry:
            raise TransientExecutionError(str(exc)) from exc
        return req
    except Exception as exc:  # a handler bug or a permanent refusal: stop, show it to a human
        logger.exception("Approval request %s: the handler failed", request_id)
        return _fail(request_id, token, error=f"{type(exc).__name__}: {exc}", verb="execution_failed")


@transaction.atomic
def approval_requeue(*, request_id: int, actor: AbstractBaseUser) -> ApprovalRequest:
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
def approval_cancel(*, request_id: int, actor: AbstractBaseUser | None, reason: str = "") -> ApprovalRequest:
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
        req.save(update_fields=["escalation_level", "due_at"])
        audit_record(
            verb="escalated",
            request=req,
            data={"level": req.escalation_level, "groups": [g.name for g in groups], "due_at": req.due_at},
        )
        _enqueue_notification(req, reason="escalated", group_ids=[g.pk for g in groups])
        return True


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


def approval_reap_stuck(*, older_than: timedelta) -> int:
    """Sweep for executions that stalled; return how many were re-enqueued.

    - Claims stuck in ``executing`` for longer than ``older_than`` whose worker is gone are
      released and re-enqueued (or failed after ``MAX_ATTEMPTS``).
    - Requests left ``approved`` for longer than ``older_than`` since their decision and their
      last attempt (a task message lost, the broker down at commit time, a transient error
      whose retry never came) are re-enqueued.

    Re-enqueueing is always safe: the executor's claim lets only one run through.
    """
    from approvals.tasks import approval_execute_task

    cutoff = timezone.now() - older_than
    stuck = list(
        ApprovalRequest.objects.filter(status=Status.EXECUTING, claimed_at__lt=cutoff)
        .order_by("claimed_at")
        .values_list("id", flat=True)[:500]
    )
    again = [request_id for request_id in stuck if _release_dead_claim(request_id, older_than=older_than)]
    again += list(
        ApprovalRequest.objects.filter(status=Status.APPROVED, decided_at__lt=cutoff)
        .filter(models.Q(claimed_at__isnull=True) | models.Q(claimed_at__lt=cutoff))
        .exclude(pk__in=again)
        .order_by("decided_at")
        .values_list("id", flat=True)[:500]
    )
    for request_id in again:
        approval_execute_task.delay_on_commit(request_id)  # runs now outside a transaction
    return len(again)


__all__ = [
    "approval_cancel",
    "approval_decide",
    "approval_escalate_overdue",
    "approval_execute",
    "approval_reap_stuck",
    "approval_request_create",
    "approval_requeue",
    "validate_payload",
]

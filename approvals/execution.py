"""Execution of approved requests: claim → prepare (locked) → deliver (no lock) → complete (locked).

The invariant (DESIGN.md §1) holds as before: a handler's effect happens only for a request in
``executing`` state claimed by this worker, for exactly the approved payload, approved by enough
qualified people, against the subject version seen at decision time, and at most once. What
changed is where the effect happens: a :class:`StagedHandler` only *prepares* it under the row
locks (a ``prepared`` Delivery, committed with the checks), the delivery kernel performs it with
no lock held and no transaction open, and the handler's bookkeeping (the outbound message, the
timeline, the refund's status) is *completed* under the locks again. A worker killed in the middle
leaves a ``sending`` delivery; the next attempt turns it into ``unknown`` and the request fails
with "possibly sent": a person decides, nothing is resent on its own.

Handlers that only change the database (no external effect) are still run whole under the locks.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.db import connection, models, transaction
from django.utils import timezone

from approvals import services as _services
from approvals.audit import audit_record
from approvals.conf import app_settings
from approvals.exceptions import ExecutionInProgress, TransientError, TransientExecutionError, UnknownAction
from approvals.models import ApprovalRequest, Decision
from approvals.payloads import jsonable, payload_hash, subject_version
from approvals.registry import Action, get_action
from hitl_crm.delivery.channels import DeliveryDeferred
from hitl_crm.delivery.locks import session_lock
from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import Outbound, delivery_prepare, delivery_retry, delivery_send

logger = logging.getLogger(__name__)

Status = ApprovalRequest.Status
DState = Delivery.State
ON_RESOLVED = "approvals.execution.approval_delivery_resolved"
POSSIBLY_SENT = (
    "Possibly sent — a person must decide. The worker stopped while handing this over, so nobody "
    "knows whether it arrived; it was not sent again. Open “Possibly sent” to send it again or mark it as sent."
)


@dataclass(frozen=True)
class StagedHandler:
    """A handler whose external effect goes through the delivery kernel.

    ``prepare(req, payload) -> Outbound`` runs under the request's and the subject's row locks,
    after the executor's checks: it may refuse by raising, and describes exactly what is sent.
    ``complete(req, payload, delivery) -> dict`` runs under the locks again once the delivery is
    ``sent`` and records it (idempotent: a second call finds its own rows and returns
    ``duplicate: True``). Calling the handler directly runs the three steps in a row.
    """

    prepare: Callable[[ApprovalRequest, dict[str, Any]], Outbound]
    complete: Callable[[ApprovalRequest, dict[str, Any], Delivery], dict[str, Any]]

    def __post_init__(self) -> None:
        # Introspection (admin, checks, tests) sees the feature app that owns the handler.
        object.__setattr__(self, "__module__", getattr(self.prepare, "__module__", __name__))

    def __call__(self, req: ApprovalRequest, payload: dict[str, Any]) -> dict[str, Any]:
        delivery = _delivery_for(req, self.prepare(req, payload))
        if delivery.state in (DState.PREPARED, DState.SENDING):
            try:
                delivery = delivery_send(delivery_id=delivery.pk)
            except DeliveryDeferred as exc:
                raise TransientError(str(exc)) from exc
        if delivery.state != DState.SENT:
            raise RuntimeError(_not_sent_error(delivery))
        return self.complete(req, payload, delivery)


def _delivery_for(req: ApprovalRequest, outbound: Outbound) -> Delivery:
    return delivery_prepare(
        key=cast(str, req.execution_key),  # set when the request was approved, before anything executes
        outbound=outbound,
        on_resolved=ON_RESOLVED,
        source=f"approvals.request:{req.pk}",
        source_url=_request_url(req.pk),
        sent_by=_sent_by(req),
    )


def _sent_by(req: ApprovalRequest) -> Any:
    """Who the effect goes out for: the person who approved this version (as the case thread's author),
    else the person who asked for it; ``None`` when neither was a person (the autopilot on an AI draft)."""
    decision = (
        req.decisions.standing()  # an approval undone in the undo window sent nothing
        .filter(verdict__in=Decision.APPROVING, reviewer__isnull=False, payload_hash=req.payload_hash)
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )
    return decision.reviewer if decision else req.requested_by


def _request_url(request_id: int) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("approvals:detail", args=[request_id])
    except NoReverseMatch:
        return ""


def _not_sent_error(delivery: Delivery) -> str:
    if delivery.state == DState.UNKNOWN:
        return POSSIBLY_SENT
    return f"Not accepted: {delivery.error or 'the channel refused it.'}"


class _Refused(Exception):
    """The executor will not run this payload (terminal; no handler call)."""


class _ClaimLost(Exception):
    """Someone else took over this execution; roll back whatever we did."""


class _NotSent(Exception):
    """The delivery ended failed or unknown: the request fails for a person to look at."""


def _due() -> models.Q:
    """Approved requests whose undo window has passed (or that never had one)."""
    return models.Q(execute_after__isnull=True) | models.Q(execute_after__lte=timezone.now())


def _claim(request_id: int, token: str) -> bool:
    """approved → executing, only once the undo window has passed. An undo holds the row's lock
    while it moves the request back to pending, so this update waits for it and then misses."""
    with transaction.atomic():
        claimed = (
            ApprovalRequest.objects.filter(pk=request_id, status=Status.APPROVED)
            .filter(_due())
            .update(
                status=Status.EXECUTING,
                claim_token=token,
                claimed_at=timezone.now(),
                attempts=models.F("attempts") + 1,
            )
        )
        if claimed == 1:
            req = ApprovalRequest.objects.get(pk=request_id)
            audit_record(verb="execution_started", request=req, data={"attempt": req.attempts})
            _services._on_commit_status(req, old=Status.APPROVED)
    return claimed == 1


def _execution_lock(request_id: int):
    """Held for a whole execution (claim to completion), also while no row lock is held."""
    return session_lock(f"approvals-execute:{request_id}")


def _release_dead_claim(request_id: int, *, older_than: timedelta | None, session_held: bool | None) -> bool:
    """executing → approved when no live worker holds the claim; True if released.

    On PostgreSQL a live executor holds the request's session lock for its whole run (and its
    row lock while it checks or records), so a claim whose session lock we hold
    (``session_held``) and whose row we can lock with SKIP LOCKED has no live worker, whatever
    its age. Elsewhere (SQLite) only the claim's age tells: it must exceed the task time limit.
    """
    now = timezone.now()
    with transaction.atomic():
        qs = ApprovalRequest.objects.filter(pk=request_id, status=Status.EXECUTING)
        if older_than is not None:
            qs = qs.filter(claimed_at__lt=now - older_than)
        if connection.features.has_select_for_update_skip_locked and session_held is not None:
            if not session_held:
                return False
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
            _services._on_commit_status(req, old=Status.EXECUTING)
            return False
        req.status = Status.APPROVED
        req.claim_token = ""
        req.save(update_fields=["status", "claim_token"])
        audit_record(verb="claim_released", request=req, data={"attempts": req.attempts, "claimed_at": req.claimed_at})
        _services._on_commit_status(req, old=Status.EXECUTING)
        return True


def _locked(request_id: int, token: str) -> ApprovalRequest:
    req = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("content_type").get(pk=request_id)
    if req.status != Status.EXECUTING or req.claim_token != token:
        raise _ClaimLost
    return req


def _check(req: ApprovalRequest, *, check_subject: bool) -> tuple[Action, models.Model | None]:
    """The executor's refusals: unknown action, changed payload, too few approvals, changed subject."""
    try:
        spec = get_action(req.action)
    except UnknownAction as exc:
        raise _Refused(str(exc)) from None
    if payload_hash(req.final) != req.payload_hash:
        raise _Refused("The approved payload was changed after approval, so it was not executed.")
    # Under the row lock: an approval undone in the undo window no longer counts.
    approvals = req.decisions.standing().filter(verdict__in=Decision.APPROVING, payload_hash=req.payload_hash)
    by_autopilot = approvals.filter(is_autopilot=True).exists()
    humans = approvals.filter(reviewer__isnull=False).values("reviewer").distinct().count()
    if not by_autopilot and humans < req.required_approvals:
        raise _Refused(
            f"This payload has {humans} of {req.required_approvals} required approvals, so it was not executed."
        )
    subject = _services._subject_of(req, lock=True)
    if not check_subject:
        return spec, subject
    if subject is None:
        raise _Refused("The subject of this request no longer exists, so it was not executed.")
    if subject_version(subject) != req.subject_version:
        raise _Refused(
            f"{subject} changed after approval, so it was not executed. Create a new request for the current version."
        )
    return spec, subject


def _mark_executed(req: ApprovalRequest, token: str, result: Any, **audit_data: Any) -> ApprovalRequest:
    result = jsonable(result if isinstance(result, dict) else {"value": result})
    done = ApprovalRequest.objects.filter(pk=req.pk, status=Status.EXECUTING, claim_token=token).update(
        status=Status.EXECUTED, executed_at=timezone.now(), result=result, error="", claim_token=""
    )
    if done != 1:
        raise _ClaimLost
    req.refresh_from_db()
    audit_record(
        verb="executed",
        request=req,
        data={"attempt": req.attempts, "execution_key": req.execution_key, "result": result, **audit_data},
    )
    _services._on_commit_status(req, old=Status.EXECUTING)
    return req


def _prepare(request_id: int, token: str) -> ApprovalRequest | int:
    """Under the locks: check, then either run a database-only handler to the end (returns the
    executed request) or commit the ``prepared`` delivery of a staged one (returns its id)."""
    with transaction.atomic():
        req = _locked(request_id, token)
        existing = Delivery.objects.filter(key=req.execution_key).first() if req.execution_key else None
        # A delivery already sent (a worker died before recording it, or a person resolved it)
        # is only recorded now: the subject may have moved on since, the effect happened anyway.
        spec, subject = _check(req, check_subject=not (existing and existing.state == DState.SENT))
        req.subject = subject
        payload = copy.deepcopy(req.final)
        if not isinstance(spec.handler, StagedHandler):
            return _mark_executed(req, token, spec.handler(req, payload))
        if existing is None:
            return _delivery_for(req, spec.handler.prepare(req, payload)).pk
        if existing.state == DState.UNKNOWN:
            raise _NotSent(POSSIBLY_SENT)
        if existing.state in (DState.PREPARED, DState.FAILED):
            spec.handler.prepare(req, payload)  # its refusals (e.g. an opt-out) apply to every attempt
        if existing.state == DState.FAILED:
            # A person re-queued a request whose channel had refused it: try again, same key.
            delivery_retry(delivery_id=existing.pk, reason=f"Re-queued after: {existing.error}")
        return existing.pk


def _complete(request_id: int, token: str, delivery: Delivery) -> ApprovalRequest:
    with transaction.atomic():
        req = _locked(request_id, token)
        spec = get_action(req.action)
        req.subject = _services._subject_of(req, lock=True)
        if req.subject is None:
            raise _NotSent("It was sent, but the subject of this request no longer exists to record it on.")
        # A delivery exists only for an action whose handler is staged (see _prepare).
        handler = cast(StagedHandler, spec.handler)
        result = handler.complete(req, copy.deepcopy(req.final), delivery)
        return _mark_executed(req, token, result, delivery=delivery.pk)


def _run(request_id: int, token: str) -> ApprovalRequest:
    prepared = _prepare(request_id, token)
    if isinstance(prepared, ApprovalRequest):
        return prepared
    delivery_id = prepared
    try:
        # No transaction open, no row lock held. A delivery still ``sending`` belongs to the
        # worker whose claim we took over as dead: it becomes ``unknown``.
        delivery = delivery_send(delivery_id=delivery_id, sender_gone=True)
    except DeliveryDeferred as exc:
        raise TransientError(str(exc)) from exc
    if delivery.state in (DState.PREPARED, DState.SENDING):  # a live "send again" task has it
        raise TransientError("The delivery is being sent by another worker; its outcome is recorded next time.")
    if delivery.state != DState.SENT:
        raise _NotSent(_not_sent_error(delivery))
    return _complete(request_id, token, delivery)


def _fail(request_id: int, token: str, *, error: str, verb: str, **data: Any) -> ApprovalRequest:
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request_id)
        if req.status == Status.EXECUTING and req.claim_token == token:
            req.status = Status.FAILED
            req.error = error[:5000]
            req.claim_token = ""
            req.save(update_fields=["status", "error", "claim_token"])
            audit_record(verb=verb, request=req, data={"attempt": req.attempts, "error": req.error, **data})
            _services._on_commit_status(req, old=Status.EXECUTING)
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
        _services._on_commit_status(req, old=Status.EXECUTING)
        return req, req.status == Status.APPROVED


def approval_execute(*, request_id: int) -> ApprovalRequest:
    """Run the handler of an approved request, at most once.

    1. Claim: ``UPDATE … SET status='executing' WHERE id=… AND status='approved'`` must hit one
       row (committed, so everyone sees the claim). The executor holds the request's session
       lock (PostgreSQL) from here to the end, which proves to others that it is alive.
    2. Prepare, under the request's and the subject's row locks: refuse (→ failed, no effect) if
       the payload hash, the approvals or the subject version do not match; commit the
       ``prepared`` delivery of a staged handler (or run a database-only handler to the end and
       mark executed in the same transaction).
    3. Deliver, with no row lock and no transaction: the kernel marks it ``sending``, performs
       it, marks it ``sent`` / ``failed`` / ``unknown``. A ``sending`` delivery of a dead worker
       becomes ``unknown`` here and is never sent again.
    4. Complete, under the locks: the handler records the effect; the request is executed.

    A ``TransientError`` (certainly not delivered) puts the request back to ``approved`` and
    raises ``TransientExecutionError`` for the task to retry with backoff (up to
    ``MAX_ATTEMPTS``); a refusal or an unknown outcome marks it ``failed`` for a person. Any
    other state is a no-op (returned unchanged), so duplicate task deliveries are harmless; so is
    a request still in its undo window (``execute_after`` in the future: returned ``approved``). A
    claim left by a dead worker is released and re-claimed; a live one raises
    ``ExecutionInProgress``. Manages its own transactions: do not call it inside one.
    """
    token = uuid.uuid4().hex
    with _execution_lock(request_id) as held:
        if held is False:  # another executor (or the reaper) is at it right now
            req = ApprovalRequest.objects.get(pk=request_id)
            if req.status in (Status.APPROVED, Status.EXECUTING):
                raise ExecutionInProgress(f"Request #{request_id} is being executed by another worker.")
            return req
        if not _claim(request_id, token):
            req = ApprovalRequest.objects.get(pk=request_id)
            if req.status != Status.EXECUTING:
                return req
            if not (_release_dead_claim(request_id, older_than=None, session_held=held) and _claim(request_id, token)):
                req.refresh_from_db()
                if req.status == Status.EXECUTING:
                    raise ExecutionInProgress(f"Request #{request_id} is being executed by another worker.")
                return req
        try:
            return _run(request_id, token)
        except _ClaimLost:
            return ApprovalRequest.objects.get(pk=request_id)
        except _Refused as refusal:
            return _fail(request_id, token, error=str(refusal), verb="execution_refused")
        except _NotSent as not_sent:
            delivery = Delivery.objects.filter(key=ApprovalRequest.objects.get(pk=request_id).execution_key).first()
            return _fail(
                request_id,
                token,
                error=str(not_sent),
                verb="execution_failed",
                delivery=delivery.pk if delivery else None,
                delivery_state=delivery.state if delivery else "",
            )
        except TransientError as exc:
            req, will_retry = _retry_later(request_id, token, exc)
            if will_retry:
                raise TransientExecutionError(str(exc)) from exc
            return req
        except Exception as exc:  # a handler bug or a permanent refusal: stop, show it to a human
            logger.exception("Approval request %s: the handler failed", request_id)
            return _fail(request_id, token, error=f"{type(exc).__name__}: {exc}", verb="execution_failed")


def approval_delivery_resolved(*, delivery_id: int) -> ApprovalRequest | None:
    """The delivery kernel's hook: a person sent again or marked as sent the delivery of a
    failed request. failed → approved (audited with that person), and the executor records it
    (it finds the delivery ``sent`` and sends nothing)."""
    delivery = Delivery.objects.select_related("resolved_by").filter(pk=delivery_id, state=DState.SENT).first()
    if delivery is None:
        return None
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update(of=("self",)).filter(execution_key=delivery.key).first()
        if req is None or req.status != Status.FAILED:
            return req
        previous = req.error
        req.status = Status.APPROVED
        req.attempts = 0
        req.claim_token = ""
        req.error = ""
        req.save(update_fields=["status", "attempts", "claim_token", "error"])
        audit_record(
            verb="delivery_resolved",
            request=req,
            actor=delivery.resolved_by,
            data={"delivery": delivery.pk, "result": delivery.result, "previous_error": previous[:500]},
        )
        _services._enqueue_execution(req)
        _services._on_commit_status(req, old=Status.FAILED)
        return req


def approval_reap_stuck(*, older_than: timedelta) -> int:
    """Sweep for executions that stalled; return how many were re-enqueued.

    - Claims stuck in ``executing`` for longer than ``older_than`` whose worker is gone are
      released and re-enqueued (or failed after ``MAX_ATTEMPTS``).
    - Requests left ``approved`` for longer than ``older_than`` since their undo window ended
      (or, without one, their decision) and their last attempt (a task message lost, the broker
      down at commit time, a transient error whose retry never came) are re-enqueued.

    Re-enqueueing is always safe: the executor's claim lets only one run through, and a
    delivery a dead worker was sending is never sent again.
    """
    from approvals.tasks import approval_execute_task

    cutoff = timezone.now() - older_than
    stuck = list(
        ApprovalRequest.objects.filter(status=Status.EXECUTING, claimed_at__lt=cutoff)
        .order_by("claimed_at")
        .values_list("id", flat=True)[:500]
    )
    again = []
    for request_id in stuck:
        with _execution_lock(request_id) as held:
            if held is not False and _release_dead_claim(request_id, older_than=older_than, session_held=held):
                again.append(request_id)
    again += list(
        ApprovalRequest.objects.filter(status=Status.APPROVED, decided_at__lt=cutoff)
        .filter(models.Q(execute_after__isnull=True) | models.Q(execute_after__lt=cutoff))
        .filter(models.Q(claimed_at__isnull=True) | models.Q(claimed_at__lt=cutoff))
        .exclude(pk__in=again)
        .order_by("decided_at")
        .values_list("id", flat=True)[:500]
    )
    for request_id in again:
        approval_execute_task.delay_on_commit(request_id)  # runs now outside a transaction
    return len(again)


__all__ = [
    "StagedHandler",
    "approval_delivery_resolved",
    "approval_execute",
    "approval_reap_stuck",
]

"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from approvals.conf import app_settings
from approvals.exceptions import ExecutionInProgress, TransientExecutionError
from approvals.models import ApprovalRequest

logger = logging.getLogger(__name__)


def _in_undo_window(req: ApprovalRequest) -> bool:
    return (
        req.status == ApprovalRequest.Status.APPROVED
        and req.execute_after is not None
        and (req.execute_after > timezone.now())
    )


@shared_task(
    bind=True,
    queue="dispatch",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientExecutionError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def approval_execute_task(self, request_id: int) -> None:
    """Execute an approved request. Safe to deliver twice: the service claims it at most once.

    Enqueued for the end of the undo window; run early it does nothing (and reschedules itself).
    """
    from approvals.services import approval_execute

    eager = bool(self.request.is_eager)
    # Eagerly (no broker) Celery cannot retry: its Retry would surface in the caller, after
    # the decision has committed. Try again at once instead; the service fails the request
    # after MAX_ATTEMPTS, and the beat sweeper re-enqueues anything left approved.
    tries = max(1, app_settings.MAX_ATTEMPTS) if eager else 1
    for attempt in range(1, tries + 1):
        try:
            req = approval_execute(request_id=request_id)
            if not eager and _in_undo_window(req):
                # Early (a clock ahead of ours): come back when the window ends.
                self.apply_async((request_id,), eta=req.execute_after)
            return
        except ApprovalRequest.DoesNotExist:
            logger.warning("Approval request %s does not exist; nothing to execute", request_id)
            return
        except TransientExecutionError:
            if not eager:
                raise  # autoretry_for: back off and try again
            if attempt == tries:
                logger.warning("Approval request %s: transient errors; left for the sweeper", request_id)
        except ExecutionInProgress as exc:
            if eager:
                logger.warning("Approval request %s is being executed elsewhere", request_id)
                return
            # Another worker holds a live claim; look again later (it may die and leave it to us).
            raise self.retry(exc=exc, countdown=min(60, app_settings.EXECUTION_LEASE_SECONDS), max_retries=30) from exc


@shared_task(
    ignore_result=True, autoretry_for=(ConnectionError, TimeoutError, OSError), retry_backoff=10, max_retries=5
)
def approval_notify_task(request_id: int, reason: str = "routed", group_ids: list[int] | None = None) -> None:
    """Email the reviewers of a request (all of them, or those in ``group_ids`` after escalation)."""
    from approvals.notifications import approval_notify_reviewers

    approval_notify_reviewers(request_id=request_id, reason=reason, group_ids=group_ids)


@shared_task(ignore_result=True, acks_late=True, queue="ai")
def approval_redraft_task(request_id: int, decision_id: int) -> None:
    """The AI's next version of a request sent back with "request changes" (idempotent per decision)."""
    from approvals.services import approval_redraft

    approval_redraft(request_id=request_id, decision_id=decision_id)


@shared_task(ignore_result=True)
def approval_escalate_overdue_task() -> int:
    from approvals.services import approval_escalate_overdue

    return approval_escalate_overdue()


@shared_task(ignore_result=True)
def approval_refresh_overdue_task() -> int:
    """Beat, every minute: requests whose due time has passed move to the top of the review queue."""
    from approvals.services import refresh_overdue

    return refresh_overdue()


@shared_task(ignore_result=True, queue="dispatch")
def approval_reap_stuck_task() -> int:
    from approvals.services import approval_reap_stuck

    # On PostgreSQL a live executor holds the request's session lock (and its row lock while it
    # checks or records), so two minutes is safe; elsewhere the service also waits for
    # EXECUTION_LEASE_SECONDS. A delivery a dead worker was sending is never resent.
    return approval_reap_stuck(older_than=timedelta(minutes=2))


@shared_task(ignore_result=True)
def audit_anchor_task() -> int | None:
    """Anchor the audit chain's head (beat). Returns the new anchor's sequence, or None if unchanged."""
    from approvals.audit import audit_anchor_create

    anchor = audit_anchor_create()
    return anchor.sequence if anchor is not None else None


@shared_task(
    ignore_result=True, autoretry_for=(ConnectionError, TimeoutError, OSError), retry_backoff=10, max_retries=5
)
def audit_anchor_email_task(anchor_id: int) -> None:
    """Email one audit anchor to HITL_CRM_AUDIT_ANCHOR_EMAILS."""
    from approvals.audit import audit_anchor_email

    audit_anchor_email(anchor_id=anchor_id)


@shared_task(ignore_result=True, acks_late=True)
def approval_digest_task() -> int:
    """Reviewer digests (beat, every minute): at most one per reviewer per HITL_CRM_APPROVALS_DIGEST_MINUTES.

    Safe to run twice or after a killed worker: each digest is one delivery keyed by user and
    interval, prepared together with what it announces and sent at most once by the kernel.
    """
    from approvals.notifications import approval_send_digests

    return approval_send_digests()

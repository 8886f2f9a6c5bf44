"""A campaign's sending: releasing an approved phase, the beat that starts and unsticks sends, and
noticing when a phase is done. The approval handler (``marketing.handlers``) calls
:func:`campaign_release_phase`; the mail itself goes out in ``marketing.delivery``.

These are system entry points (the approvals executor, tasks and beat): no actor; every state
change is audited as the system in the transaction that makes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from hitl_crm.errors import InvalidState
from marketing.conf import app_settings
from marketing.models import Campaign, Send
from marketing.services._common import Status, audit_transition, ensure_state

STALL_MINUTES = 10


def _batches(campaign: Campaign, phase: str) -> list[list[int]]:
    ids = list(
        campaign.sends.filter(phase=phase, status=Send.Status.QUEUED).order_by("pk").values_list("pk", flat=True)
    )
    size = max(1, app_settings.BATCH_SIZE)
    return [[ids[i], ids[min(i + size, len(ids)) - 1]] for i in range(0, len(ids), size)]


def _enqueue_batches(campaign_id: int, phase: str, batches: list[list[int]]) -> None:
    from marketing.tasks import campaign_send_batch_task

    for first_id, last_id in batches:
        campaign_send_batch_task.delay_on_commit(campaign_id, phase, first_id, last_id)


def _queue_phase(campaign: Campaign, phase: str, payload: dict[str, Any], approved: dict[str, Any]) -> int:
    """Move this phase's planned rows ``pending → queued``; how many."""
    pending = campaign.sends.filter(phase=phase, status=Send.Status.PENDING)
    count = pending.count()
    if count > payload["audience_size"]:
        raise InvalidState(f"{count} planned sends but only {payload['audience_size']} were approved.")
    if phase == "winner":
        winner_id = payload["variants"][0]["id"]
        pending.update(variant_id=winner_id, status=Send.Status.QUEUED)
        campaign.winner_variant_id = winner_id
    else:
        if pending.exclude(variant_id__in=[int(i) for i in approved]).exists():
            raise InvalidState("Some planned sends use a variant that was not approved.")
        pending.update(status=Send.Status.QUEUED)
    return count


def campaign_release_phase(
    *, campaign: Campaign, payload: dict[str, Any], execution_key: str, request_id: int
) -> dict[str, Any]:
    """The approval handler's work (runs inside the executor's transaction, campaign row locked).

    Freezes the approved variants, moves exactly this phase's planned rows ``pending →
    queued`` (the winner's remainder gets the winning variant), and enqueues the dispatch
    batches after commit (or leaves them for the scheduler when the campaign is scheduled
    later). Idempotent per ``execution_key``. Raises ``InvalidState`` (the request fails, nothing
    is sent) when the campaign is not where the approval expects it.
    """
    phase = payload["phase"]
    done = (campaign.approved_content or {}).get(phase)
    if done and done.get("key") == execution_key:
        return {**done.get("result", {}), "duplicate": True}
    if done:
        raise InvalidState(f"The {phase} phase of this campaign was already approved by another request.")
    expected = Status.IN_REVIEW if phase == "test" else Status.TESTING
    ensure_state(campaign, expected, doing=f"release the {phase} phase")
    approved = {
        str(v["id"]): {k: v[k] for k in ("label", "subject", "preheader", "body", "style")} for v in payload["variants"]
    }
    count = _queue_phase(campaign, phase, payload, approved)
    now = timezone.now()
    batches = _batches(campaign, phase)
    due = phase == "winner" or campaign.scheduled_at is None or campaign.scheduled_at <= now
    result = {
        "phase": phase,
        "queued": count,
        "batches": len(batches),
        "status": Status.SENDING if due else Status.SCHEDULED,
    }
    campaign.approved_content = {
        **(campaign.approved_content or {}),
        phase: {
            "key": execution_key,
            "request": request_id,
            "approved_at": now.isoformat(),
            "variants": approved,
            "batches": batches,
            "result": result,
        },
    }
    before = campaign.status
    campaign.status = result["status"]
    campaign.started_at = campaign.started_at or (now if due else None)
    campaign.save(update_fields=["approved_content", "status", "started_at", "winner_variant", "updated_at"])
    audit_transition(
        campaign,
        before=before,
        after=campaign.status,
        actor=None,
        phase=phase,
        approval_request=request_id,
        queued=count,
    )
    if due:
        _enqueue_batches(campaign.pk, phase, batches)
    if not count:
        transaction.on_commit(lambda: campaign_phase_check_finished(campaign_id=campaign.pk, phase=phase))
    return result


@transaction.atomic
def campaign_phase_check_finished(*, campaign_id: int, phase: str) -> str | None:
    """sending → testing (remainder waits for a winner) or sent, once nothing of ``phase`` is in flight."""
    in_flight = Send.objects.filter(
        campaign_id=campaign_id, phase=phase, status__in=[Send.Status.QUEUED, Send.Status.SENDING]
    )
    if in_flight.exists():
        return None
    waiting = (
        phase == "test"
        and Send.objects.filter(campaign_id=campaign_id, phase=Send.Phase.WINNER, status=Send.Status.PENDING).exists()
    )
    new = Status.TESTING if waiting else Status.SENT
    now = timezone.now()
    changed = Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
        status=new, finished_at=None if waiting else now, updated_at=now
    )
    if not changed:
        return None
    audit_transition(Campaign.objects.get(pk=campaign_id), before=Status.SENDING, after=new, actor=None, phase=phase)
    return new


def _start_scheduled(now: datetime) -> int:
    started = 0
    for campaign_id in Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().filter(pk=campaign_id, status=Status.SCHEDULED).first()
            if campaign is None:
                continue
            campaign.status = Status.SENDING
            campaign.started_at = now
            campaign.save(update_fields=["status", "started_at", "updated_at"])
            audit_transition(campaign, before=Status.SCHEDULED, after=campaign.status, actor=None, phase="test")
            _enqueue_batches(campaign.pk, "test", (campaign.approved_content.get("test") or {}).get("batches", []))
            started += 1
    return started


def _requeue_stalled(campaign: Campaign) -> int:
    requeued = 0
    for phase, content in (campaign.approved_content or {}).items():
        open_rows = campaign.sends.filter(phase=phase, status__in=[Send.Status.QUEUED, Send.Status.SENDING])
        if not open_rows.exists():
            campaign_phase_check_finished(campaign_id=campaign.pk, phase=phase)
            continue
        batches = [b for b in content.get("batches", []) if open_rows.filter(pk__gte=b[0], pk__lte=b[1]).exists()]
        with transaction.atomic():
            _enqueue_batches(campaign.pk, phase, batches)
        requeued += len(batches)
    return requeued


def campaign_dispatch_due(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: start scheduled campaigns whose time has come; re-enqueue stalled batches.

    Re-enqueueing is always safe: each row is claimed once, and a range held by a live
    worker is left to it.
    """
    now = now or timezone.now()
    started = _start_scheduled(now)
    requeued = 0
    stall = now - timedelta(minutes=STALL_MINUTES)
    for campaign in Campaign.objects.filter(status=Status.SENDING, started_at__lt=stall):
        last = campaign.sends.aggregate(last=Max("sent_at"), claimed=Max("claimed_at"))
        recent = max((t for t in last.values() if t is not None), default=None)
        if recent is not None and recent > stall:
            continue
        requeued += _requeue_stalled(campaign)
    return {"started": started, "requeued": requeued}

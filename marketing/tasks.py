"""Celery tasks: thin wrappers that take ids and call one service (all idempotent)."""

from __future__ import annotations

import logging

from celery import shared_task

from marketing.delivery import TransientSendError

logger = logging.getLogger(__name__)


@shared_task(
    queue="dispatch",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientSendError,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=10,
    ignore_result=True,
)
def campaign_send_batch_task(campaign_id: int, phase: str, first_id: int, last_id: int) -> dict:
    """Send one approved range of a campaign. Safe to deliver twice: each row is claimed once."""
    from marketing.delivery import send_batch

    result = send_batch(campaign_id=campaign_id, phase=phase, first_id=first_id, last_id=last_id)
    if result.refused:
        logger.info("Campaign %s batch %s-%s not sent: %s", campaign_id, first_id, last_id, result.refused)
    return {
        "sent": result.sent,
        "skipped": result.skipped,
        "failed": result.failed,
        "interrupted": result.interrupted,
        "busy": result.busy,
    }


@shared_task(queue="dispatch", ignore_result=True)
def campaign_dispatch_due_task() -> dict:
    """Beat (every minute): start scheduled campaigns that are due, re-enqueue stalled batches."""
    from marketing.services import campaign_dispatch_due

    return campaign_dispatch_due()


@shared_task(queue="default", ignore_result=True, acks_late=True, soft_time_limit=1800, time_limit=1900)
def predictive_retrain_task() -> dict:
    """Beat (nightly): retrain churn and propensity, rescore every contact."""
    from marketing.services import predictive_retrain

    return predictive_retrain()

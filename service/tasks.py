"""Celery tasks: thin wrappers that take ids and call one service. Safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

logger = logging.getLogger(__name__)


@shared_task(
    queue="ai",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=5,
    ignore_result=True,
)
def message_pipeline_task(message_id: int) -> str:
    """Run the AI pipeline for one inbound message (triage → … → approval requests). Idempotent."""
    from service.services import message_pipeline_run

    outcome = message_pipeline_run(message_id=message_id)
    logger.info("service pipeline: message %s %s", message_id, outcome)
    return outcome


@shared_task(
    queue="ai",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def case_summary_refresh_task(case_id: int) -> bool:
    """Bring a case's summary up to date with its thread (after a reply went out). Idempotent."""
    from service.services import case_summary_refresh

    return case_summary_refresh(case_id=case_id)


@shared_task(queue="default", ignore_result=True)
def message_pipeline_sweep_task() -> int:
    """Beat: re-queue inbound messages the pipeline has not handled after 10 minutes."""
    from datetime import timedelta

    from service.services import message_pipeline_sweep

    return message_pipeline_sweep(older_than=timedelta(minutes=10))

"""Celery tasks: thin wrappers that take ids and call one service. All are safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, queue="default", acks_late=True)
def lead_rescore_dirty_task() -> int:
    """Rescore every lead changed since it was last scored (the debounced recompute)."""
    from leads.scoring import RESCORE_SCHEDULED_KEY, leads_rescore

    # Forget the schedule first: a change from now on schedules the next run, and
    # everything marked before this line is picked up by this one.
    cache.delete(RESCORE_SCHEDULED_KEY)
    return leads_rescore(dirty=True).scored


@shared_task(ignore_result=True, queue="default", acks_late=True, soft_time_limit=1500, time_limit=1800)
def lead_rescore_all_task() -> int:
    """Rescore every lead (after training, a rule change, and nightly as engagement ages)."""
    from leads.scoring import leads_rescore

    return leads_rescore().scored


@shared_task(ignore_result=True, queue="default", acks_late=True, soft_time_limit=1500, time_limit=1800)
def scoring_model_train_task(actor_id: int | None = None, features: list[dict[str, Any]] | None = None) -> int | None:
    """Train (and activate) a new model version; below the minimum data, log and keep what is there."""
    from django.contrib.auth import get_user_model

    from leads.features import Feature
    from leads.training import NotEnoughData, scoring_model_train

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        model = scoring_model_train(
            actor=actor,
            features=[Feature.from_dict(f) for f in features] if features else None,
            note="on demand" if actor else "scheduled",
        )
    except NotEnoughData as exc:
        logger.info("Lead scoring model not trained: %s", exc)
        return None
    return model.version


@shared_task(
    ignore_result=True,
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3300,
    time_limit=3600,
)
def lead_import_run_task(import_id: int) -> None:
    """Run a queued CSV import; a redelivery resumes after the last committed chunk."""
    from leads.import_jobs import lead_import_run

    lead_import_run(import_id=import_id)


@shared_task(ignore_result=True, queue="ai", acks_late=True)
def lead_followup_draft_task(lead_id: int, actor_id: int | None = None) -> None:
    """Draft a follow-up with the AI and propose it for approval (the lead page polls for the result)."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import PermissionDenied, ValidationError

    from approvals.exceptions import AlreadyOpen
    from leads.followups import drafting_done, lead_followup_draft
    from leads.models import Lead

    try:
        lead = Lead.objects.filter(pk=lead_id).first()
        if lead is None:
            return
        actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
        try:
            lead_followup_draft(lead=lead, actor=actor)
        except (AlreadyOpen, PermissionDenied, ValidationError) as exc:
            logger.info("Lead %s: no follow-up drafted: %s", lead_id, exc)
    finally:
        drafting_done(lead_id)

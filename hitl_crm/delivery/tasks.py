"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from hitl_crm.delivery.channels import DeliveryDeferred


@shared_task(
    queue="dispatch",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DeliveryDeferred,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def delivery_send_task(delivery_id: int) -> None:
    """Send a delivery a person released again. Safe to run twice: only a prepared delivery is sent."""
    from hitl_crm.delivery.services import delivery_send_and_resolve

    delivery_send_and_resolve(delivery_id=delivery_id)


@shared_task(queue="dispatch", acks_late=True, ignore_result=True)
def delivery_resolved_task(delivery_id: int) -> None:
    """Run the owner's hook after a person marked a delivery as sent (idempotent on the owner's side)."""
    from hitl_crm.delivery.services import delivery_run_resolved_hook

    delivery_run_resolved_hook(delivery_id=delivery_id)

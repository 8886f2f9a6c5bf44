"""Every change of a delivery's state goes through here (DESIGN.md §1).

prepared → sending → sent | failed | unknown, each step committed on its own; the effect
itself runs with no transaction open and no row lock held. ``unknown`` (the worker died, or
the outside system stopped answering after it had the message) is only left by a person:
"send again" or "mark as sent", both recorded with the actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from hitl_crm.delivery.channels import EMAIL_TRANSMITTER, DeliveryDeferred, DeliveryRefused
from hitl_crm.delivery.conf import app_settings
from hitl_crm.delivery.locks import session_lock
from hitl_crm.delivery.models import Delivery, DeliveryEvent

logger = logging.getLogger(__name__)

State = Delivery.State
RESOLVE_PERMISSION = "delivery.resolve_delivery"
UNKNOWN_ERROR = (
    "Possibly sent: the worker stopped while handing this over, so nobody knows whether it arrived. "
    "It is not sent again automatically; a person must decide."
)


class DeliveryStateError(Exception):
    """The delivery is not in a state that allows this (e.g. it was already resolved)."""


@dataclass(frozen=True)
class Outbound:
    """What a caller wants delivered; the kernel stores it as a :class:`Delivery`."""

    channel: str
    kind: str
    content: dict[str, Any]
    recipient: str = ""
    summary: str = ""
    transmitter: str = EMAIL_TRANSMITTER
    extra: dict[str, Any] = field(default_factory=dict)


def _event(delivery: Delivery, verb: str, *, actor: User | None = None, **data: Any) -> None:
    DeliveryEvent.objects.create(delivery=delivery, verb=verb, state=delivery.state, actor=actor, data=data)


def _transition(delivery_id: int, *, old: str | tuple[str, ...], verb: str, **changes: Any) -> Delivery | None:
    """Conditional state change + event in one short transaction; None if the state was not ``old``."""
    olds = (old,) if isinstance(old, str) else old
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id, state__in=olds).first()
        if delivery is None:
            return None
        for name, value in changes.items():
            setattr(delivery, name, value)
        delivery.save(update_fields=list(changes))
        _event(delivery, verb, **{k: v for k, v in changes.items() if k in ("error",)})
        return delivery


def delivery_prepare(
    *,
    key: str,
    outbound: Outbound,
    on_resolved: str = "",
    source: str = "",
    source_url: str = "",
    sent_by: User | None = None,
) -> Delivery:
    """Create the ``prepared`` delivery for ``key``, or return the one that exists (any state).

    ``sent_by`` is the person on whose word it goes out (the Outbox's "Sent by me"); ``None`` for
    the system (reviewer notifications, digests).

    Callers commit it before the effect: either in its own transaction (this one, when called
    outside any) or with the caller's bookkeeping (the executor's prepare step).
    """
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            key=key,
            defaults={
                "channel": outbound.channel,
                "kind": outbound.kind,
                "content": outbound.content,
                "recipient": outbound.recipient[:254],
                "summary": outbound.summary[:300],
                "transmitter": outbound.transmitter,
                "on_resolved": on_resolved,
                "source": source[:100],
                "source_url": source_url[:300],
                "sent_by": sent_by,
            },
        )
        if created:
            _event(delivery, "prepared")
        return delivery


def delivery_send(*, delivery_id: int, sender_gone: bool = False) -> Delivery:
    """Perform the effect of a ``prepared`` delivery, at most once; return it in its new state.

    1. prepared → sending, committed. A ``sending`` delivery whose sender is gone (its session
       lock is free, or without PostgreSQL its lease ran out) becomes ``unknown``; any other
       state is returned as is (a ``sent`` delivery is never sent again, an ``unknown`` one
       waits for a person).
    2. The transmitter runs with no transaction of ours open and no row lock held.
    3. sent (committed right after it returns), failed (it certainly refused), unknown (no one
       knows), or back to prepared and :class:`DeliveryDeferred` re-raised (certainly not
       delivered: the caller retries with backoff).

    ``sender_gone``: the caller knows whoever was sending it is dead (the approvals executor,
    after taking over a dead claim); it matters only where there are no session locks.
    """
    with session_lock(f"delivery:{delivery_id}") as held:
        current = Delivery.objects.get(pk=delivery_id)
        if held is False:
            return current  # a live worker is sending it right now
        if current.state == State.SENDING:
            lease = timedelta(seconds=app_settings.SENDING_LEASE_SECONDS)
            expired = current.sending_at is not None and current.sending_at < timezone.now() - lease
            if held or sender_gone or expired:
                return delivery_mark_unknown(delivery_id=delivery_id) or Delivery.objects.get(pk=delivery_id)
            return current
        started = _transition(
            delivery_id,
            old=State.PREPARED,
            verb="sending",
            state=State.SENDING,
            sending_at=timezone.now(),
            attempts=current.attempts + 1,
        )
        if started is None:
            return Delivery.objects.get(pk=delivery_id)
        return _transmit(started)


def _transmit(delivery: Delivery) -> Delivery:
    try:
        result = import_string(delivery.transmitter)(delivery)
    except DeliveryDeferred as exc:
        _transition(delivery.pk, old=State.SENDING, verb="deferred", state=State.PREPARED, error=str(exc)[:2000])
        raise
    except DeliveryRefused as exc:
        refused = _transition(delivery.pk, old=State.SENDING, verb="refused", state=State.FAILED, error=str(exc)[:2000])
        return refused or Delivery.objects.get(pk=delivery.pk)
    except Exception as exc:
        logger.exception("Delivery %s: outcome unknown", delivery.pk)
        unknown = _transition(
            delivery.pk,
            old=State.SENDING,
            verb="outcome_unknown",
            state=State.UNKNOWN,
            error=f"{UNKNOWN_ERROR} ({type(exc).__name__}: {exc})"[:2000],
        )
        return unknown or Delivery.objects.get(pk=delivery.pk)
    done = _transition(
        delivery.pk, old=State.SENDING, verb="sent", state=State.SENT, sent_at=timezone.now(), result=result or {}
    )
    return done or Delivery.objects.get(pk=delivery.pk)


def delivery_retry(*, delivery_id: int, reason: str = "") -> Delivery | None:
    """failed → prepared: a person re-queued what the channel had refused (same key, same content)."""
    return _transition(delivery_id, old=State.FAILED, verb="retry", state=State.PREPARED, error=reason[:2000])


def delivery_mark_unknown(*, delivery_id: int, reason: str = "") -> Delivery | None:
    """sending → unknown: its worker is gone (the caller proved it), so the outcome is unknown."""
    error = f"{UNKNOWN_ERROR} {reason}".strip()
    return _transition(delivery_id, old=State.SENDING, verb="outcome_unknown", state=State.UNKNOWN, error=error)


def delivery_record_unknown(
    *, key: str, outbound: Outbound, on_resolved: str = "", source: str = "", source_url: str = "", reason: str = ""
) -> Delivery:
    """Record an effect whose outcome is unknown (a batch sender found it interrupted): for a person."""
    delivery = delivery_prepare(
        key=key, outbound=outbound, on_resolved=on_resolved, source=source, source_url=source_url
    )
    changed = _transition(
        delivery.pk,
        old=(State.PREPARED, State.SENDING),
        verb="outcome_unknown",
        state=State.UNKNOWN,
        error=f"{UNKNOWN_ERROR} {reason}".strip()[:2000],
    )
    return changed or Delivery.objects.get(pk=delivery.pk)


def _ensure_may_resolve(actor: User | None) -> None:
    if not (actor is not None and actor.is_active and actor.has_perm(RESOLVE_PERMISSION)):
        raise PermissionDenied("You may not decide on deliveries.")


def _after_commit_resolved(delivery: Delivery) -> None:
    from hitl_crm.delivery.tasks import delivery_resolved_task

    if delivery.on_resolved:
        delivery_resolved_task.delay_on_commit(delivery.pk)


@transaction.atomic
def delivery_send_again(*, delivery_id: int, actor: User) -> Delivery:
    """A person decided it did not arrive: unknown/failed → prepared, sent again by a task.

    Needs ``delivery.resolve_delivery``. The same content goes out with the same Message-ID (or
    idempotency key), so a receiving system that did get the first one can drop the second.
    """
    _ensure_may_resolve(actor)
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or not delivery.needs_a_person:
        raise DeliveryStateError("This delivery no longer needs a decision.")
    delivery.state = State.PREPARED
    delivery.resolved_by = actor
    delivery.resolved_at = timezone.now()
    delivery.save(update_fields=["state", "resolved_by", "resolved_at"])
    _event(delivery, "send_again", actor=actor, previous_error=delivery.error[:500])
    from hitl_crm.delivery.tasks import delivery_send_task

    delivery_send_task.delay_on_commit(delivery.pk)
    return delivery


@transaction.atomic
def delivery_mark_sent(*, delivery_id: int, actor: User) -> Delivery:
    """A person checked that it did arrive: unknown/failed → sent, nothing is sent.

    Needs ``delivery.resolve_delivery``.
    """
    _ensure_may_resolve(actor)
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or not delivery.needs_a_person:
        raise DeliveryStateError("This delivery no longer needs a decision.")
    now = timezone.now()
    delivery.state = State.SENT
    delivery.sent_at = delivery.sent_at or now
    delivery.resolved_by = actor
    delivery.resolved_at = now
    delivery.result = {**delivery.result, "marked_sent_by": actor.get_username()}
    delivery.save(update_fields=["state", "sent_at", "resolved_by", "resolved_at", "result"])
    _event(delivery, "marked_sent", actor=actor, previous_error=delivery.error[:500])
    _after_commit_resolved(delivery)
    return delivery


def delivery_run_resolved_hook(*, delivery_id: int) -> None:
    """Tell the owner of a delivery a person resolved it (e.g. finish an approval's bookkeeping)."""
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None or not delivery.on_resolved or delivery.state != State.SENT:
        return
    import_string(delivery.on_resolved)(delivery_id=delivery.pk)


def delivery_send_and_resolve(*, delivery_id: int) -> Delivery:
    """The "send again" task body: send, and if it went out, run the owner's hook."""
    delivery = delivery_send(delivery_id=delivery_id)
    if delivery.state == State.SENT:
        delivery_run_resolved_hook(delivery_id=delivery.pk)
    return delivery


def delivery_send_email(*, key: str, message: Any, kind: str, source: str = "") -> Delivery:
    """Prepare (committed) and send one email now, for mail that is not an approval's effect
    (reviewer notifications). Sending the same key again sends nothing new."""
    from hitl_crm.delivery.channels import email_content

    delivery = delivery_prepare(
        key=key,
        outbound=Outbound(
            channel=Delivery.Channel.EMAIL,
            kind=kind,
            content=email_content(message),
            recipient=", ".join(message.to)[:254],
            summary=message.subject[:300],
        ),
        source=source,
    )
    return delivery_send(delivery_id=delivery.pk)

"""The hash-chained audit trail.

Appends are serialised (a transaction-scoped advisory lock on PostgreSQL; SQLite
serialises writers itself) so the chain never forks. Record an event inside the
transaction that makes the change: both commit or neither does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from approvals.payloads import canonical_json, jsonable

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from hitl_crm.ai.models import AiRun

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every process appending to the chain.
_ADVISORY_LOCK_KEY = 0x68_69_74_6C_61_75_64  # "hitlaud"


def _json_stable(value: Any) -> Any:
    """Values that survive a round trip through PostgreSQL ``jsonb`` unchanged.

    jsonb stores numbers as ``numeric`` and prints big floats without an exponent, so they
    would come back as ints and break the hash: such floats are kept as strings.
    """
    if isinstance(value, dict):
        return {str(k): _json_stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_stable(v) for v in value]
    if isinstance(value, float) and (value != value or abs(value) in (float("inf"),) or abs(value) >= 1e15):
        return str(value)
    return value


def _event_material(event: AuditEvent) -> dict[str, Any]:
    return {
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "actor_type": event.actor_type,
        "actor_label": event.actor_label,
        "verb": event.verb,
        "request_id": event.request_id,
        "data": event.data,
    }


def event_hash(event: AuditEvent) -> str:
    digest = hashlib.sha256()
    digest.update(event.prev_hash.encode("ascii"))
    digest.update(canonical_json(_event_material(event)).encode("utf-8"))
    return digest.hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


@transaction.atomic
def audit_record(
    *,
    verb: str,
    request: ApprovalRequest | None = None,
    actor: AbstractBaseUser | None = None,
    ai_run: AiRun | None = None,
    autopilot: bool = False,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. The actor is a user, an AI run, the autopilot or (none given) the system."""
    if actor is not None:
        actor_type, label = AuditEvent.ActorType.USER, f"user:{actor.pk}:{actor.get_username()}"
    elif autopilot:
        actor_type, label = AuditEvent.ActorType.AUTOPILOT, "autopilot"
    elif ai_run is not None:
        actor_type, label = AuditEvent.ActorType.AI, f"ai_run:{ai_run.pk}"
    else:
        actor_type, label = AuditEvent.ActorType.SYSTEM, "system"
    _lock_chain()
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        created_at=timezone.now(),
        actor_type=actor_type,
        actor=actor,
        actor_label=label[:200],
        ai_run=ai_run,
        verb=verb,
        request=request,
        data=_json_stable(jsonable(data or {})),
        prev_hash=last or GENESIS,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def audit_verify(*, chunk_size: int = 2000) -> tuple[int, ChainBreak | None]:
    """Walk the chain in id order; return (events checked, the first break or None)."""
    expected_prev = GENESIS
    checked = 0
    rows: Iterator[AuditEvent] = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
    for event in rows:
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.id,
                "its prev_hash does not match the previous event's hash (an event before it was changed or deleted)",
            )
        if event_hash(event) != event.hash:
            return checked, ChainBreak(event.id, "its content does not match its hash (the event was changed)")
        expected_prev = event.hash
        checked += 1
    return checked, None

"""The hash-chained, keyed and anchored audit trail.

Appends are serialised (a transaction-scoped advisory lock on PostgreSQL; SQLite
serialises writers itself) so the chain never forks. Record an event inside the
transaction that makes the change: both commit or neither does.

Three layers make tampering visible to ``manage.py verify_audit``:

* ``hash`` chains the rows: sha256 over the canonical JSON of every column (``prev_hash``
  included), so changing, inserting or deleting a row breaks the chain;
* ``mac`` is an HMAC-SHA256 of the same material with ``HITL_CRM_AUDIT_KEY``, so a chain
  rewritten and re-hashed by someone without the key no longer verifies;
* ``AuditAnchor`` rows, log lines (logger ``hitl_crm.audit.anchor``) and optional emails pin
  the chain's head periodically, so deleting the newest events is detected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from approvals.conf import app_settings
from approvals.models import ApprovalRequest, AuditAnchor, AuditEvent
from approvals.payloads import canonical_json, jsonable

if TYPE_CHECKING:
    from django.contrib.auth.models import Permission, User

    from hitl_crm.ai.models import AiRun

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every process appending to the chain.
_ADVISORY_LOCK_KEY = 0x68_69_74_6C_61_75_64  # "hitlaud"

anchor_logger = logging.getLogger("hitl_crm.audit.anchor")

# Every column of AuditEvent except ``id`` (assigned by the database after hashing; gaps and
# re-ordering are caught by the chain), ``hash`` and ``mac`` (the outputs). A new column must
# be added here, or it is not protected (tests/approvals/test_audit_integrity.py enforces it).
MATERIAL_FIELDS: tuple[str, ...] = (
    "created_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "ai_run_id",
    "verb",
    "request_id",
    "target_type_id",
    "target_id",
    "target_repr",
    "data",
    "scheme",
    "prev_hash",
)
# What scheme 1 (rows written before the full material) hashed, with prev_hash prepended.
_LEGACY_FIELDS: tuple[str, ...] = ("created_at", "actor_type", "actor_label", "verb", "request_id", "data")


# --- key ---------------------------------------------------------------------------------


def audit_key() -> bytes:
    """The HMAC key: ``HITL_CRM_AUDIT_KEY``, or (unset) a key derived from ``SECRET_KEY``.

    The derived key changes when SECRET_KEY is rotated, and then every MAC fails to verify:
    production should set a dedicated key (system check approvals.W010).
    """
    configured = app_settings.AUDIT_KEY
    if configured:
        return configured.encode("utf-8")
    return hmac.new(settings.SECRET_KEY.encode("utf-8"), b"hitl_crm.audit.key.v1", hashlib.sha256).digest()


def _mac(material: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(material).encode("utf-8"), hashlib.sha256).hexdigest()


# --- events --------------------------------------------------------------------------------


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


def _material_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def event_material(event: AuditEvent) -> dict[str, Any]:
    """Every hashed column of ``event`` as JSON-ready values (see ``MATERIAL_FIELDS``)."""
    return {name: _material_value(getattr(event, name)) for name in MATERIAL_FIELDS}


def event_hash(event: AuditEvent) -> str:
    """The chain hash ``event`` should carry, by its scheme."""
    if event.scheme == AuditEvent.SCHEME_LEGACY:
        digest = hashlib.sha256(event.prev_hash.encode("ascii"))
        legacy = {name: _material_value(getattr(event, name)) for name in _LEGACY_FIELDS}
        digest.update(canonical_json(legacy).encode("utf-8"))
        return digest.hexdigest()
    return hashlib.sha256(canonical_json(event_material(event)).encode("utf-8")).hexdigest()


def event_mac(event: AuditEvent, *, key: bytes | None = None) -> str:
    """HMAC-SHA256 over every column and the hash: only the key holder can (re)seal a row."""
    return _mac({**event_material(event), "hash": event.hash}, key if key is not None else audit_key())


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


@transaction.atomic
def audit_record(
    *,
    verb: str,
    request: ApprovalRequest | None = None,
    actor: User | None = None,
    ai_run: AiRun | None = None,
    autopilot: bool = False,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. The actor is a user, an AI run, the autopilot or (none given) the system.

    ``target`` names what a non-request event is about (a policy, a user, a group).
    """
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
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False) if target else None,
        target_id=str(target.pk)[:64] if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=_json_stable(jsonable(data or {})),
        scheme=AuditEvent.SCHEME_FULL,
        prev_hash=last or GENESIS,
    )
    event.hash = event_hash(event)
    event.mac = event_mac(event)
    event.save(force_insert=True)
    return event


# --- who is acting (for hooks that are not handed a user) -----------------------------------

_current_request: ContextVar[HttpRequest | None] = ContextVar("approvals_audit_request", default=None)


def audit_actor_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Remember the current request so permission-change hooks can name the signed-in actor."""

    def middleware(request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return get_response(request)
        finally:
            _current_request.reset(token)

    return middleware


def current_actor() -> User | None:
    """The signed-in user of the request being handled, or None (shell, worker, anonymous)."""
    user = getattr(_current_request.get(), "user", None)
    return user if user is not None and user.is_authenticated else None


def _permission_label(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def audit_m2m_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    model: type[models.Model],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    """``m2m_changed`` receiver for User.groups, User.user_permissions and Group.permissions.

    Records who gained or lost which group or permission, whichever side of the relation
    was changed; one event per user or group, in the transaction that made the change.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    user_model = get_user_model()
    specs: dict[type[models.Model], tuple[str, type[models.Model], str, str]] = {
        user_model.groups.through: ("user_groups_changed", user_model, "groups", "user_set"),
        user_model.user_permissions.through: ("user_permissions_changed", user_model, "user_permissions", "user_set"),
        Group.permissions.through: ("group_permissions_changed", Group, "permissions", "group_set"),
    }
    if sender not in specs:
        return
    verb, owner_model, forward_name, reverse_name = specs[sender]
    change = "removed" if action in ("post_remove", "pre_clear") else "added"

    def with_labels(queryset: models.QuerySet) -> models.QuerySet:
        return queryset.select_related("content_type") if queryset.model is Permission else queryset

    if reverse:
        # e.g. group.user_set.add(user): ``instance`` is the item, the owners are in pk_set
        owners = (
            list(getattr(instance, reverse_name).all())
            if action == "pre_clear"
            else list(owner_model._default_manager.filter(pk__in=pk_set or ()))
        )
        items_by_owner = {owner.pk: [instance] for owner in owners}
    else:
        owners = [instance]
        related = getattr(instance, forward_name)
        items = list(
            with_labels(related.all() if action == "pre_clear" else model._default_manager.filter(pk__in=pk_set or ()))
        )
        items_by_owner = {instance.pk: items}
    actor = current_actor()
    for owner in owners:
        items = items_by_owner[owner.pk]
        if not items:
            continue
        if isinstance(items[0], Permission):
            # every item of one relation is of the same model: all permissions here
            labels = sorted(_permission_label(cast(Permission, item)) for item in items)
        else:
            labels = sorted(str(item) for item in items)
        audit_record(verb=verb, actor=actor, target=owner, data={change: labels})


# --- anchors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorRecord:
    """An anchor as written to the database, the log and emails (one shape for all three)."""

    sequence: int
    head_id: int
    head_hash: str
    event_count: int
    created_at: str
    prev_mac: str
    mac: str

    @classmethod
    def of(cls, anchor: AuditAnchor) -> AnchorRecord:
        return cls(
            sequence=anchor.sequence,
            head_id=anchor.head_id,
            head_hash=anchor.head_hash,
            event_count=anchor.event_count,
            created_at=anchor.created_at.astimezone(UTC).isoformat(),
            prev_mac=anchor.prev_mac,
            mac=anchor.mac,
        )

    def material(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if name != "mac"}

    def expected_mac(self, key: bytes) -> str:
        return _mac({"anchor": self.material()}, key)


LOG_PREFIX = "audit_anchor "


def _anchor_publish(anchor_id: int) -> None:
    anchor = AuditAnchor.objects.get(pk=anchor_id)
    record = AnchorRecord.of(anchor)
    # The JSON is in the message too, so the line can be parsed whatever the log formatter.
    anchor_logger.info(
        "%s%s",
        LOG_PREFIX,
        canonical_json(asdict(record)),
        extra={f"audit_{name}": value for name, value in asdict(record).items()},
    )
    if app_settings.AUDIT_ANCHOR_EMAILS:
        from approvals.tasks import audit_anchor_email_task

        audit_anchor_email_task.delay_on_commit(anchor_id)  # never a ghost task after a rollback


@transaction.atomic
def audit_anchor_create(*, now: datetime | None = None) -> AuditAnchor | None:
    """Pin the chain's current head in a keyed anchor; publish it to the log (and email) on commit.

    Returns None when nothing was appended since the last anchor, or when the last anchored
    head is gone or changed (then an error is logged: anchoring over it would hide tampering).
    """
    _lock_chain()
    head = AuditEvent.objects.order_by("-id").values("id", "hash").first()
    head_id, head_hash = (head["id"], head["hash"]) if head else (0, GENESIS)
    last = AuditAnchor.objects.select_for_update().order_by("-sequence").first()
    if last is not None:
        if last.head_id == head_id and last.head_hash == head_hash:
            return None
        if last.head_id and not AuditEvent.objects.filter(pk=last.head_id, hash=last.head_hash).exists():
            anchor_logger.error(
                "audit_anchor_refused: event %s pinned by anchor #%s is missing or changed; run manage.py verify_audit",
                last.head_id,
                last.sequence,
            )
            return None
    since = last.head_id if last is not None else 0
    count = (last.event_count if last is not None else 0) + AuditEvent.objects.filter(
        id__gt=since, id__lte=head_id
    ).count()
    record = AnchorRecord(
        sequence=(last.sequence if last is not None else 0) + 1,
        head_id=head_id,
        head_hash=head_hash,
        event_count=count,
        created_at=(now or timezone.now()).astimezone(UTC).isoformat(),
        prev_mac=last.mac if last is not None else GENESIS,
        mac="",
    )
    anchor = AuditAnchor(
        sequence=record.sequence,
        head_id=record.head_id,
        head_hash=record.head_hash,
        event_count=record.event_count,
        created_at=datetime.fromisoformat(record.created_at),
        prev_mac=record.prev_mac,
        mac=record.expected_mac(audit_key()),
    )
    anchor.save(force_insert=True)
    transaction.on_commit(lambda: _anchor_publish(anchor.pk))
    return anchor


def audit_anchor_email(*, anchor_id: int) -> int:
    """Email one anchor to ``HITL_CRM_AUDIT_ANCHOR_EMAILS`` (an internal notice); return mails sent."""
    from django.core.mail import EmailMessage

    from hitl_crm.delivery.services import delivery_send_email

    recipients = app_settings.AUDIT_ANCHOR_EMAILS
    if not recipients:
        return 0
    record = AnchorRecord.of(AuditAnchor.objects.get(pk=anchor_id))
    body = (
        "The approvals audit trail was anchored. Keep this message: `manage.py verify_audit` compares\n"
        "the trail with its anchors, and this copy lives outside the database.\n\n"
        f"Anchor:      #{record.sequence}\n"
        f"Time (UTC):  {record.created_at}\n"
        f"Head event:  {record.head_id}\n"
        f"Head hash:   {record.head_hash}\n"
        f"Events:      {record.event_count}\n"
        f"MAC:         {record.mac}\n\n"
        f"{LOG_PREFIX}{canonical_json(asdict(record))}\n"
    )
    message = EmailMessage(
        subject=f"Audit anchor #{record.sequence}: {record.event_count} events",
        body=body,
        from_email=settings.SERVER_EMAIL,
        to=recipients,
    )
    # Through the delivery kernel like every other mail: one delivery per anchor, sent at most once.
    delivery = delivery_send_email(
        key=f"audit-anchor-{record.sequence}-{anchor_id}", message=message, kind="notification", source="audit"
    )
    return 1 if delivery.state == delivery.State.SENT else 0


_ANCHOR_INTS = {"sequence", "head_id", "event_count"}
_LOG_JSON = re.compile(re.escape(LOG_PREFIX) + r"(\{.*?\})(?:\s|\"|$)")


def anchors_from_log(lines: Iterable[str]) -> list[AnchorRecord]:
    """Anchors found in a log (JSON lines or text); other lines are ignored."""
    names = {f.name for f in AnchorRecord.__dataclass_fields__.values()}
    found: list[AnchorRecord] = []
    for line in lines:
        if LOG_PREFIX.strip() not in line:
            continue
        values: dict[str, Any] | None = None
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and all(f"audit_{name}" in parsed for name in names):
            values = {name: parsed[f"audit_{name}"] for name in names}
        else:
            text = parsed.get("message", "") if isinstance(parsed, dict) else line
            match = _LOG_JSON.search(str(text))
            if match:
                try:
                    candidate = json.loads(match.group(1))
                except ValueError:
                    candidate = None
                if isinstance(candidate, dict) and names <= set(candidate):
                    values = {name: candidate[name] for name in names}
        if values is not None:
            try:
                fields: dict[str, Any] = {k: int(v) if k in _ANCHOR_INTS else str(v) for k, v in values.items()}
                found.append(AnchorRecord(**fields))
            except (TypeError, ValueError):
                continue  # not an anchor this code wrote; its MAC could not match anyway
    return found


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One finding: ``kind`` is rewrite, deletion, truncation or anchor."""

    kind: str
    event_id: int | None
    message: str


@dataclass
class AuditReport:
    checked: int = 0
    legacy: int = 0
    anchors_checked: int = 0
    log_anchors_checked: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def _check_anchor_records(
    records: list[AnchorRecord], key: bytes, report: AuditReport, *, source: str
) -> list[AnchorRecord]:
    """MAC checks of one anchor source, and (a complete source) sequence and link checks.

    A log is not complete (it rotates), so only the database's anchors must run 1, 2, 3….
    """
    complete = source == "database"
    expected_sequence, expected_prev = 1, GENESIS
    for record in sorted(records, key=lambda r: r.sequence):
        where = f"{source} anchor #{record.sequence}"
        if complete and record.sequence > expected_sequence:
            missing = f"#{expected_sequence}" + (
                f"–#{record.sequence - 1}" if record.sequence - 1 > expected_sequence else ""
            )
            report.problems.append(AuditProblem("anchor", None, f"{source} anchor(s) {missing} are missing (deleted)."))
        elif complete and record.prev_mac != expected_prev:
            report.problems.append(
                AuditProblem("anchor", None, f"{where}: does not link to the anchor before it (anchors changed).")
            )
        if not hmac.compare_digest(record.mac, record.expected_mac(key)):
            report.problems.append(
                AuditProblem("anchor", None, f"{where}: its MAC does not match (the anchor was changed or forged).")
            )
        expected_sequence, expected_prev = record.sequence + 1, record.mac
    return records


# Complexity 28 (above radon C): one pass over the chain that checks every kind of tampering
# (links, MACs, gaps, anchors) as it goes; splitting it would mean a pass per kind over every row.
def audit_verify_report(*, log_anchors: list[AnchorRecord] | None = None, chunk_size: int = 2000) -> AuditReport:
    """Check the whole trail: chain links, hashes, MACs, id gaps and every anchor.

    ``log_anchors`` (from ``anchors_from_log``) are checked too, and compared with the
    anchors in the database, so truncation of both events and anchors is found.
    """
    key = audit_key()
    report = AuditReport()
    db_anchors = [AnchorRecord.of(a) for a in AuditAnchor.objects.order_by("sequence")]
    report.anchors_checked = len(db_anchors)
    to_check = _check_anchor_records(db_anchors, key, report, source="database")
    if log_anchors is not None:
        log_anchors = list({record.sequence: record for record in log_anchors}.values())
        report.log_anchors_checked = len(log_anchors)
        by_sequence = {record.sequence: record for record in db_anchors}
        _check_anchor_records(log_anchors, key, report, source="log")
        for record in log_anchors:
            stored = by_sequence.get(record.sequence)
            if stored is None:
                report.problems.append(
                    AuditProblem("truncation", None, f"log anchor #{record.sequence} is missing from the database.")
                )
                to_check.append(record)
            elif stored != record:
                report.problems.append(
                    AuditProblem("anchor", None, f"anchor #{record.sequence} differs between the log and the database.")
                )
                to_check.append(record)
    pending: dict[int, list[AnchorRecord]] = defaultdict(list)
    for record in to_check:
        if record.head_id:
            pending[record.head_id].append(record)

    mac_run: list[int] = []  # consecutive events whose MAC fails: one line for the run

    def flush_mac_run() -> None:
        if not mac_run:
            return
        if len(mac_run) == 1:
            text = f"event {mac_run[0]}: its MAC does not match (rewritten without the audit key, or the key changed)."
        else:
            text = (
                f"events {mac_run[0]}–{mac_run[-1]} ({len(mac_run)} events): their MACs do not match "
                "(the chain was rewritten and re-hashed without the audit key, or the key changed)."
            )
        report.problems.append(AuditProblem("rewrite", mac_run[0], text))
        mac_run.clear()

    expected_prev, previous_id, count = GENESIS, None, 0
    rows: Iterator[AuditEvent] = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
    for event in rows:
        count += 1
        linked = event.prev_hash == expected_prev
        if previous_id is None and not linked:
            report.problems.append(
                AuditProblem(
                    "deletion",
                    event.id,
                    f"event {event.id}: the first event does not start the chain (events before it were deleted).",
                )
            )
        elif previous_id is not None and event.id != previous_id + 1:
            gap = f"{previous_id + 1}" + (f"–{event.id - 1}" if event.id - 1 > previous_id + 1 else "")
            if linked:
                report.notes.append(
                    f"ids {gap} are unused; the chain links across them (never committed, e.g. rolled back)."
                )
            else:
                report.problems.append(
                    AuditProblem(
                        "deletion",
                        event.id,
                        f"events {gap} are missing between events {previous_id} and {event.id} (deleted).",
                    )
                )
        elif not linked:
            report.problems.append(
                AuditProblem(
                    "rewrite",
                    event.id,
                    f"event {event.id}: its prev_hash does not match event {previous_id}'s hash "
                    "(an event was changed, or one was deleted and the chain re-linked).",
                )
            )
        if event_hash(event) != event.hash:
            flush_mac_run()
            report.problems.append(
                AuditProblem(
                    "rewrite", event.id, f"event {event.id}: its content does not match its hash (changed in place)."
                )
            )
        elif not event.mac or not hmac.compare_digest(event.mac, event_mac(event, key=key)):
            mac_run.append(event.id)
        else:
            flush_mac_run()
        if event.scheme == AuditEvent.SCHEME_LEGACY:
            report.legacy += 1
        for record in pending.pop(event.id, []):
            if record.head_hash != event.hash:
                report.problems.append(
                    AuditProblem(
                        "rewrite",
                        event.id,
                        f"anchor #{record.sequence}: event {event.id}'s hash differs from the anchored one "
                        "(rewritten after it was anchored).",
                    )
                )
            if record.event_count != count:
                report.problems.append(
                    AuditProblem(
                        "deletion",
                        event.id,
                        f"anchor #{record.sequence}: {record.event_count} events up to event {event.id} were "
                        f"anchored, {count} found.",
                    )
                )
        expected_prev, previous_id = event.hash, event.id
    flush_mac_run()
    report.checked = count
    for head_id, records in sorted(pending.items()):
        for record in records:
            if previous_id is None or head_id > previous_id:
                text = (
                    f"anchor #{record.sequence} ({record.created_at}) pins event {head_id} with "
                    f"{record.event_count} events, but the chain ends at "
                    f"{f'event {previous_id}' if previous_id else 'nothing'} with {count}: "
                    "the newest events were deleted (truncation)."
                )
                report.problems.append(AuditProblem("truncation", head_id, text))
            else:
                report.problems.append(
                    AuditProblem(
                        "deletion", head_id, f"anchor #{record.sequence} pins event {head_id}, which is missing."
                    )
                )
    report.problems.sort(key=lambda problem: problem.event_id or 0)  # stable: in chain order
    if not db_anchors and not log_anchors:
        report.notes.append("no anchors yet: deleting the newest events cannot be detected until one is written.")
    elif db_anchors and previous_id is not None and previous_id > db_anchors[-1].head_id:
        report.notes.append(
            f"events after {db_anchors[-1].head_id} are not anchored yet "
            f"(the last anchor is #{db_anchors[-1].sequence})."
        )
    if report.legacy:
        report.notes.append(
            f"{report.legacy} event(s) predate the full hash (scheme 1): their hash covers the legacy columns, "
            "their MAC (added when the trail was upgraded) covers every column."
        )
    if not app_settings.AUDIT_KEY:
        report.notes.append("HITL_CRM_AUDIT_KEY is not set: MACs use a key derived from SECRET_KEY.")
    return report


def audit_verify(*, chunk_size: int = 2000) -> tuple[int, ChainBreak | None]:
    """Walk the trail; return (events checked, the first problem or None). See ``audit_verify_report``."""
    report = audit_verify_report(chunk_size=chunk_size)
    if report.ok:
        return report.checked, None
    first = report.problems[0]
    return report.checked, ChainBreak(first.event_id or 0, first.message)

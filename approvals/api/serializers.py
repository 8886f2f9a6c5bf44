"""API shapes for approvals. Output serializers read annotated/prefetched rows (no per-row queries)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from approvals.models import ApprovalRequest, AuditEvent, Decision, PayloadVersion


class SubjectRefSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app_label.model, e.g. contacts.contact")
    id = serializers.CharField()
    # The serializer metaclass moves declared fields out of the class, so this API field does not
    # replace ``Field.label`` at run time; the stubs see a class attribute of another type.
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]


class AiRunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    skill = serializers.CharField()
    backend = serializers.CharField()
    model = serializers.CharField()
    prompt_version = serializers.CharField()


class CanDecideSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why not, when not allowed.")


@extend_schema_field(SubjectRefSerializer)
class SubjectField(serializers.Field):
    def to_representation(self, req: ApprovalRequest) -> dict[str, Any]:
        subject = req.subject
        return {
            "type": f"{req.content_type.app_label}.{req.content_type.model}",
            "id": req.object_id,
            "label": str(subject) if subject is not None else None,
        }


@extend_schema_field(AiRunSummarySerializer(allow_null=True))
class AiRunSummaryField(serializers.Field):
    def to_representation(self, req: ApprovalRequest) -> dict[str, Any] | None:
        run = req.ai_run
        if run is None:
            return None
        return {
            "id": run.pk,
            "skill": run.skill,
            "backend": run.backend,
            "model": run.model_name,
            "prompt_version": run.prompt_version,
        }


class ApprovalRequestListSerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField()
    subject = SubjectField(source="*", read_only=True)
    ai_run = AiRunSummaryField(source="*", read_only=True)
    policy = serializers.CharField(source="policy.name", default=None, read_only=True)
    requested_by = serializers.CharField(source="requested_by.get_username", default=None, read_only=True)
    approvals_count = serializers.IntegerField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "action",
            "action_label",
            "status",
            "risk",
            "confidence",
            "category",
            "flags",
            "subject",
            "ai_run",
            "policy",
            "requested_by",
            "required_approvals",
            "approvals_count",
            "escalation_level",
            "due_at",
            "is_overdue",
            "created_at",
        ]
        read_only_fields = fields

    def get_action_label(self, req: ApprovalRequest) -> str:
        return req.action_spec.label


def queue_rows(qs: QuerySet[ApprovalRequest]) -> QuerySet:
    """``qs`` as plain rows with what :class:`ApprovalRequestListSerializer` shows: no model instances.

    Only the subjects' labels (their ``str()``) need the subjects, loaded per page by
    :func:`queue_rows_data`. ``qs`` must carry the ``_approvals_count`` annotation. The subject
    type and "overdue" are worked out per page in Python on purpose: as SQL expressions
    (``Concat``, ``Case``) they cost more to build and compile (~2 ms a request) than the
    comparison per row they would save.
    """
    username = f"requested_by__{get_user_model().USERNAME_FIELD}"
    return qs.prefetch_related(None).values(*QUEUE_ROW_FIELDS, username)


QUEUE_ROW_FIELDS = (
    "id", "action", "status", "risk", "confidence", "category", "flags", "content_type_id", "object_id",
    "ai_run_id", "ai_run__skill", "ai_run__backend", "ai_run__model_name", "ai_run__prompt_version",
    "policy__name", "required_approvals", "_approvals_count", "escalation_level", "due_at", "created_at",
)  # fmt: skip

_datetime = serializers.DateTimeField().to_representation  # the list serializer's format, exactly


def _datetime_formatter() -> Callable[[datetime], str | None]:
    """:data:`_datetime` for one page: the time zone and format are looked up once, not per value.

    The same strings (ISO 8601 in the current time zone, ``Z`` for UTC); any other configured
    format, or a naive value, goes through the serializer field itself.
    """
    output_format = api_settings.DATETIME_FORMAT
    if not (settings.USE_TZ and isinstance(output_format, str) and output_format.lower() == ISO_8601):
        return _datetime
    zone = timezone.get_current_timezone()

    def formatted(value: datetime) -> str | None:
        if not value:
            return None
        try:
            text = value.astimezone(zone).isoformat() if value.tzinfo is not None else None
        except OverflowError:
            text = None
        if text is None:
            return _datetime(value)  # naive, or out of range: the field's own answer (or error)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return formatted


def _subject_labels(rows: list[dict[str, Any]]) -> dict[tuple[int, str], str]:
    """``str()`` of each row's subject, one query per subject type (what the prefetch did)."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        wanted[row["content_type_id"]].add(row["object_id"])
    labels: dict[tuple[int, str], str] = {}
    for type_id, object_ids in wanted.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:
            continue  # the subject's app is gone: no label, as before
        pk = model._meta.pk
        assert pk is not None
        by_pk: dict[Any, str] = {}
        for object_id in object_ids:
            try:
                by_pk[pk.to_python(object_id)] = object_id
            except ValidationError:
                continue
        for obj in model._base_manager.filter(pk__in=list(by_pk)):
            labels[(type_id, by_pk[obj.pk])] = str(obj)
    return labels


def queue_rows_data(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list serializer's output for rows of :func:`queue_rows`: the same fields, order and values."""
    from approvals.registry import get_action, placeholder_action

    rows = list(rows)
    labels = _subject_labels(rows)
    username = f"requested_by__{get_user_model().USERNAME_FIELD}"
    now = timezone.now()
    pending = ApprovalRequest.Status.PENDING
    types = {
        type_id: f"{ct.app_label}.{ct.model}"
        for type_id in {row["content_type_id"] for row in rows}
        for ct in [ContentType.objects.get_for_id(type_id)]
    }
    action_labels: dict[str, str] = {}
    when = _datetime_formatter()
    out = []
    for row in rows:
        action = row["action"]
        if action not in action_labels:
            try:
                action_labels[action] = get_action(action).label
            except LookupError:
                action_labels[action] = placeholder_action(action).label
        out.append(
            {
                "id": row["id"],
                "action": action,
                "action_label": action_labels[action],
                "status": row["status"],
                "risk": row["risk"],
                "confidence": row["confidence"],
                "category": row["category"],
                "flags": row["flags"],
                "subject": {
                    "type": types[row["content_type_id"]],
                    "id": row["object_id"],
                    "label": labels.get((row["content_type_id"], row["object_id"])),
                },
                "ai_run": None
                if row["ai_run_id"] is None
                else {
                    "id": row["ai_run_id"],
                    "skill": row["ai_run__skill"],
                    "backend": row["ai_run__backend"],
                    "model": row["ai_run__model_name"],
                    "prompt_version": row["ai_run__prompt_version"],
                },
                "policy": row["policy__name"],
                "requested_by": row[username],
                "required_approvals": row["required_approvals"],
                "approvals_count": row["_approvals_count"],
                "escalation_level": row["escalation_level"],
                "due_at": when(row["due_at"]),
                "is_overdue": row["status"] == pending and row["due_at"] < now,
                "created_at": when(row["created_at"]),
            }
        )
    return out


class ApprovalRequestDetailSerializer(ApprovalRequestListSerializer):
    editable_fields = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()

    class Meta(ApprovalRequestListSerializer.Meta):
        fields = [
            *ApprovalRequestListSerializer.Meta.fields,
            "proposal",
            "final",
            "payload_hash",
            "version",
            "context",
            "editable_fields",
            "can_decide",
            "decided_at",
            "execute_after",
            "executed_at",
            "attempts",
            "result",
            "error",
        ]
        read_only_fields = fields

    def get_editable_fields(self, req: ApprovalRequest) -> list[str]:
        return list(req.action_spec.editable_fields)

    @extend_schema_field(CanDecideSerializer)
    def get_can_decide(self, req: ApprovalRequest) -> dict[str, Any]:
        from approvals.selectors import can_decide

        allowed, reason = can_decide(request=req, user=self.context["request"].user)
        return {"allowed": allowed, "reason": reason}


class DecideInputSerializer(serializers.Serializer):
    """A decision names the payload version it is for: ``payload_hash`` as read from the request."""

    verdict = serializers.ChoiceField(choices=Decision.Verdict.choices)
    payload_hash = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        help_text="The payload_hash of the version you reviewed (GET the request first). If the payload "
        "changed since, nothing is decided and the answer is 409 with the current payload.",
        error_messages={"invalid": "Must be the 64-character payload_hash of the request as you read it."},
    )
    edits = serializers.DictField(required=False, allow_empty=True)
    reason = serializers.ChoiceField(choices=Decision.Reason.choices, required=False, allow_blank=True, default="")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class DecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "reviewer",
            "is_autopilot",
            "verdict",
            "reason",
            "comment",
            "diff",
            "edit_ratio",
            "material",
            "second_review",
            "stats",
            "version",
            "payload_hash",
            "payload_after",
            "created_at",
            "undone_at",
        ]
        read_only_fields = fields

    def get_reviewer(self, decision: Decision) -> str | None:
        # A check constraint gives every decision but the autopilot's a reviewer: the two tests agree.
        if decision.is_autopilot or decision.reviewer is None:
            return "autopilot"
        return decision.reviewer.get_username()


class PayloadVersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", default=None, read_only=True)

    class Meta:
        model = PayloadVersion
        fields = ["number", "source", "author", "note", "payload_hash", "payload", "created_at"]
        read_only_fields = fields


class ConflictSerializer(serializers.Serializer):
    """409 body of ``decide``: the payload changed after the reviewer opened it; nothing was decided."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="payload_conflict, or conflict for other state conflicts.")
    payload_hash = serializers.CharField(required=False, help_text="The current payload's hash: decide again with it.")
    version = serializers.IntegerField(required=False)
    payload = serializers.DictField(required=False, help_text="The current payload.")
    sent_payload_hash = serializers.CharField(required=False)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor_type", "actor_label", "verb", "data", "hash"]
        read_only_fields = fields


class HistorySerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)
    versions = PayloadVersionSerializer(many=True)
    audit = AuditEventSerializer(many=True)

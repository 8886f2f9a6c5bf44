"""Saved audiences. Every change (created, renamed, new rules, deleted) is audited with before/after."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.audit import audit_record
from hitl_crm.permissions import require_permission
from marketing.models import Segment
from marketing.segments import normalise_rules
from marketing.services._common import apply_fields

SEGMENT_FIELDS = frozenset({"name", "description", "rules"})


def _state(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "description": segment.description, "rules": segment.rules}


@transaction.atomic
def segment_create(*, actor: User, name: str, rules: Any, description: str = "") -> Segment:
    """A saved audience owned by ``actor`` (``marketing.add_segment``); the rules are validated."""
    require_permission(actor, "marketing.add_segment")
    segment = Segment(
        name=(name or "").strip(), description=(description or "").strip(), rules=normalise_rules(rules), owner=actor
    )
    segment.full_clean()
    segment.save()
    audit_record(
        verb="marketing.segment_created", actor=actor, target=segment, data={"before": None, "after": _state(segment)}
    )
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, actor: User, data: dict[str, Any]) -> Segment:
    """Rename or change the rules; campaigns already submitted keep the audience they planned."""
    require_permission(actor, "marketing.change_segment")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    data = dict(data)
    if "rules" in data:
        data["rules"] = normalise_rules(data["rules"])
    before = _state(segment)
    changed = apply_fields(segment, data, SEGMENT_FIELDS)
    if changed:
        segment.full_clean()
        segment.save()
        after = _state(segment)
        audit_record(
            verb="marketing.segment_updated",
            actor=actor,
            target=segment,
            data={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}},
        )
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: User) -> None:
    """Delete a segment no campaign uses (``marketing.delete_segment``)."""
    require_permission(actor, "marketing.delete_segment")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.campaigns.exists():
        raise ValidationError({"segment": "Campaigns use this segment; it cannot be deleted."})
    audit_record(
        verb="marketing.segment_deleted", actor=actor, target=segment, data={"before": _state(segment), "after": None}
    )
    segment.delete()

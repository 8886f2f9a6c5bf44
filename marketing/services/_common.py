"""What the marketing services share: locking a campaign, checking its state, applying fields, and
writing a campaign's transitions to the audit trail. Private to ``marketing.services``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from approvals.audit import audit_record
from hitl_crm.errors import InvalidState
from marketing.models import Campaign

Status = Campaign.Status
COPY_FIELDS = frozenset({"name", "goal", "brief", "product", "audience_note", "copy_kind", "default_body"})
AUDIENCE_FIELDS = frozenset(
    {"segment", "scheduled_at", "test_metric", "baseline_rate", "min_detectable_effect", "power"}
)
VARIANT_FIELDS = frozenset({"subject", "preheader", "body", "style"})
TRANSITION = "marketing.campaign_status_changed"


def locked(campaign: Campaign) -> Campaign:
    """The campaign's row, locked for this transaction (its state is re-checked after this)."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def ensure_state(campaign: Campaign, *states: str, doing: str) -> None:
    """Raise ``InvalidState`` (409 in the API) unless the campaign is in one of ``states``."""
    if campaign.status not in states:
        raise InvalidState(f"This campaign is {campaign.get_status_display().lower()}, so you cannot {doing} now.")


def clean_single_line(value: str, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if "\n" in value or "\r" in value:
        raise ValidationError({field: "Keep it on one line."})
    if len(value) > max_length:
        raise ValidationError({field: f"Keep it under {max_length} characters."})
    return value


def apply_fields(instance: Any, data: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    """Set ``data`` on ``instance``; the names of the fields that changed. Unknown names are refused."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    changed = []
    for name, value in data.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def audited(value: Any) -> Any:
    """A field value as the audit trail keeps it (a related object by id)."""
    return getattr(value, "pk", value)


def audit_transition(campaign: Campaign, *, before: str, after: str, actor: User | None, **data: Any) -> None:
    """One campaign state change in the audit trail (``actor=None``: the system, e.g. a task)."""
    audit_record(
        verb=TRANSITION,
        actor=actor,
        target=campaign,
        data={"before": {"status": before}, "after": {"status": after}, **data},
    )

"""Campaigns: building one, asking for the approvals that let it send, and stopping it.

Every state change (draft → variants_approved → in_review → … → sent | cancelled) happens under
``select_for_update`` with a re-check of the state, and is audited in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hitl_crm.errors import InvalidState
from hitl_crm.permissions import require_permission
from marketing.conf import app_settings
from marketing.models import Campaign, Segment, Send, Variant
from marketing.segments import normalise_rules
from marketing.selectors import audience_queryset, open_request, shortlisted, variant_labels
from marketing.services._common import (
    AUDIENCE_FIELDS,
    COPY_FIELDS,
    Status,
    apply_fields,
    audit_transition,
    ensure_state,
    locked,
)
from marketing.split import bucket, split_plan

# --- building -----------------------------------------------------------------------------------


@transaction.atomic
def campaign_create(*, actor: User, name: str, brief: str, **fields: Any) -> Campaign:
    """A draft campaign owned by ``actor`` (``marketing.add_campaign``)."""
    require_permission(actor, "marketing.add_campaign")
    campaign = Campaign(name=(name or "").strip(), brief=(brief or "").strip(), owner=actor)
    apply_fields(campaign, fields, COPY_FIELDS | AUDIENCE_FIELDS)
    campaign.full_clean()
    campaign.save()
    audit_transition(campaign, before="", after=campaign.status, actor=actor, transition="created")
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: User, data: dict[str, Any]) -> Campaign:
    """Change the brief and copy settings (draft only) or the audience and test settings (until submitted)."""
    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    if set(data) & COPY_FIELDS:
        ensure_state(campaign, Status.DRAFT, doing="change the brief")
    if set(data) & AUDIENCE_FIELDS:
        ensure_state(campaign, Status.DRAFT, Status.VARIANTS_APPROVED, doing="change the audience")
    if apply_fields(campaign, data, COPY_FIELDS | AUDIENCE_FIELDS):
        campaign.full_clean()
        campaign.save()
    return campaign


@transaction.atomic
def campaign_lock_variants(*, campaign: Campaign, actor: User) -> Campaign:
    """draft → variants_approved: the shortlist is final (1 to MAX_VARIANTS variants with a body)."""
    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    ensure_state(campaign, Status.DRAFT, doing="approve the variants")
    chosen = shortlisted(campaign)
    if not chosen:
        raise ValidationError({"variants": "Shortlist at least one variant first."})
    if any(not v.body.strip() for v in chosen):
        raise ValidationError({"variants": "Every shortlisted variant needs a body."})
    campaign.status = Status.VARIANTS_APPROVED
    campaign.save(update_fields=["status", "updated_at"])
    audit_transition(campaign, before=Status.DRAFT, after=campaign.status, actor=actor, variants=[v.pk for v in chosen])
    return campaign


@transaction.atomic
def campaign_unlock_variants(*, campaign: Campaign, actor: User) -> Campaign:
    """variants_approved → draft, to edit the copy again."""
    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    ensure_state(campaign, Status.VARIANTS_APPROVED, doing="go back to editing")
    campaign.status = Status.DRAFT
    campaign.save(update_fields=["status", "updated_at"])
    audit_transition(campaign, before=Status.VARIANTS_APPROVED, after=campaign.status, actor=actor)
    return campaign


# --- approval -----------------------------------------------------------------------------------


def _variant_payload(variant: Variant, label: str) -> dict[str, Any]:
    return {
        "id": variant.pk,
        "label": label,
        "subject": variant.subject,
        "preheader": variant.preheader,
        "body": variant.body,
        "style": variant.style,
    }


def _ai_evidence(variants: list[Variant]) -> tuple[Any, float | None, str, list[dict[str, str]]]:
    ai = [v for v in variants if v.origin == Variant.Origin.AI]
    flags = [
        {"code": "spam_words", "message": f"{v.subject}: {note}", "severity": "warning"}
        for v in variants
        for note in v.flags
    ]
    if ai:
        flags.append(
            {
                "code": "ai_copy",
                "severity": "info",
                "message": f"{len(ai)} of {len(variants)} variant(s) were written by the AI and edited or "
                "kept by a marketer.",
            }
        )
    scores = [v.ai_score for v in ai if v.ai_score is not None]
    confidence = round(sum(scores) / len(scores), 3) if scores else None
    risk = "medium" if any(f["code"] == "spam_words" for f in flags) else "low"
    return (ai[0].ai_run if ai else None), confidence, risk, flags


def _audience_ids(segment: Segment) -> list[int]:
    """The reachable members of the campaign's segment, now."""
    contact_ids = list(audience_queryset(normalise_rules(segment.rules)).order_by("pk").values_list("pk", flat=True))
    if not contact_ids:
        raise ValidationError({"segment": "Nobody in this segment can receive marketing email (consent)."})
    return contact_ids


def _plan_sends(campaign: Campaign, variants: list[Variant], contact_ids: list[int], plan: Any) -> dict[str, Any]:
    """Replace any earlier (rejected) plan with one ``Send`` per contact in its deterministic cell."""
    if campaign.sends.exclude(status=Send.Status.PENDING).exists():
        raise InvalidState("This campaign has already sent email.")
    campaign.sends.all().delete()  # an earlier, rejected plan
    labels = variant_labels(variants)
    rows: list[Send] = []
    cells: Counter[str] = Counter()
    for contact_id in contact_ids:
        value = bucket(campaign.pk, contact_id)
        cell = plan.cell_of(value)
        variant = variants[cell] if cell is not None else None
        cells[labels[variant.pk] if variant else "remainder"] += 1
        rows.append(
            Send(
                campaign=campaign,
                contact_id=contact_id,
                bucket=value,
                variant=variant,
                phase=Send.Phase.TEST if variant else Send.Phase.WINNER,
            )
        )
    Send.objects.bulk_create(rows, batch_size=2000)
    remainder = cells.pop("remainder", 0)
    return {
        **plan.as_dict(),
        "audience": len(contact_ids),
        "cells": {labels[v.pk]: cells.get(labels[v.pk], 0) for v in variants},
        "remainder": remainder,
        "variants": [{"id": v.pk, "label": labels[v.pk]} for v in variants],
        "metric": campaign.test_metric,
    }


@transaction.atomic
def campaign_submit(*, campaign: Campaign, actor: User) -> Any:
    """variants_approved → in_review: plan every send and ask for the one approval that allows sending.

    The audience is fixed now (reachable members of the segment), each contact gets a
    deterministic cell; the test cells are what this approval sends, the remainder waits for a
    second, human-confirmed winner approval. Returns the ``ApprovalRequest``.
    """
    from approvals.services import approval_request_create
    from marketing.handlers import SEND_CAMPAIGN

    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    ensure_state(campaign, Status.VARIANTS_APPROVED, doing="submit it for approval")
    if open_request(campaign) is not None:
        raise InvalidState("This campaign is already waiting for a decision.")
    if campaign.segment is None:
        raise ValidationError({"segment": "Choose who receives it first."})
    variants = shortlisted(campaign)
    if not 1 <= len(variants) <= app_settings.MAX_VARIANTS:
        raise ValidationError({"variants": f"Shortlist 1 to {app_settings.MAX_VARIANTS} variants."})
    contact_ids = _audience_ids(campaign.segment)
    plan = split_plan(
        arms=len(variants),
        audience=len(contact_ids),
        baseline=campaign.baseline_rate,
        mde=campaign.min_detectable_effect,
        power=campaign.power,
        alpha=app_settings.ALPHA,
    )
    campaign.split = _plan_sends(campaign, variants, contact_ids, plan)
    campaign.status = Status.IN_REVIEW
    campaign.save(update_fields=["split", "status", "updated_at"])
    ai_run, confidence, risk, flags = _ai_evidence(variants)
    if plan.underpowered:
        flags.append(
            {
                "code": "underpowered",
                "severity": "info",
                "message": f"The audience is too small for the test the calculator asks for "
                f"({plan.needed_per_arm:,} per variant): results may stay inconclusive.",
            }
        )
    labels = variant_labels(variants)
    payload = {
        "campaign_id": campaign.pk,
        "phase": "test",
        "audience_size": len(contact_ids) - campaign.split["remainder"],
        "variants": [_variant_payload(v, labels[v.pk]) for v in variants],
        "split": campaign.split,
    }
    request = approval_request_create(
        action=SEND_CAMPAIGN,
        subject=campaign,
        proposal=payload,
        requested_by=actor,
        ai_run=ai_run,
        confidence=confidence,
        risk=risk,
        flags=flags,
        context={"category": "campaign"},
    )
    audit_transition(
        campaign,
        before=Status.VARIANTS_APPROVED,
        after=campaign.status,
        actor=actor,
        approval_request=request.pk,
        audience=len(contact_ids),
    )
    return request


def _winner_flags(results: dict[str, Any], labels: dict[int, str], variant: Variant) -> list[dict[str, str]]:
    flags = []
    if not results["comparison"].significant:
        flags.append(
            {
                "code": "not_significant",
                "severity": "warning",
                "message": f"The test has not shown a significant winner yet: {results['sentence']}",
            }
        )
    if results["suggested"] is not None and results["suggested"].pk != variant.pk:
        flags.append(
            {
                "code": "not_the_leader",
                "severity": "warning",
                "message": f"{labels[variant.pk]} was chosen although "
                f"{labels[results['suggested'].pk]} leads the test.",
            }
        )
    return flags


@transaction.atomic
def campaign_confirm_winner(*, campaign: Campaign, actor: User, variant: Variant) -> Any:
    """A person picks the winner after the test: ask for the approval that sends it to the remainder."""
    from approvals.services import approval_request_create
    from marketing.handlers import SEND_CAMPAIGN
    from marketing.selectors import campaign_results

    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    ensure_state(campaign, Status.TESTING, doing="send the winner")
    if open_request(campaign) is not None:
        raise InvalidState("The winner is already waiting for a decision.")
    variants = shortlisted(campaign)
    if variant.pk not in {v.pk for v in variants}:
        raise ValidationError({"variant": "Pick one of the tested variants."})
    remainder = campaign.sends.filter(phase=Send.Phase.WINNER, status=Send.Status.PENDING).count()
    if not remainder:
        raise InvalidState("Nobody is waiting for the winner.")
    labels = variant_labels(variants)
    results = campaign_results(campaign)
    comparison = results["comparison"]
    payload = {
        "campaign_id": campaign.pk,
        "phase": "winner",
        "audience_size": remainder,
        "variants": [_variant_payload(variant, labels[variant.pk])],
        "split": {
            "winner": labels[variant.pk],
            "remainder": remainder,
            "metric": campaign.test_metric,
            "verdict": results["sentence"],
            "p_value": round(comparison.p, 6),
            "significant": comparison.significant,
            "suggested": labels.get(results["suggested"].pk) if results["suggested"] else None,
            "results": {
                r.label: {"sent": r.sent, "successes": r.successes, "rate": round(r.rate, 6)}
                for r in results["variants"]
            },
        },
    }
    flags = _winner_flags(results, labels, variant)
    return approval_request_create(
        action=SEND_CAMPAIGN,
        subject=campaign,
        proposal=payload,
        requested_by=actor,
        risk="medium" if flags else "low",
        flags=flags,
        context={"category": "campaign-winner"},
    )


def on_approval_status_changed(sender: Any, *, request_id: int, action: str, old: str, new: str, **kwargs: Any) -> None:
    """A test-phase request that closed without executing hands the campaign back to the marketer.

    A system entry point (connected to approvals' documented signal in ``MarketingConfig.ready``);
    the change is audited as the system."""
    from marketing.handlers import SEND_CAMPAIGN

    if action != SEND_CAMPAIGN or new not in {"rejected", "cancelled", "expired", "failed"}:
        return
    from approvals.models import ApprovalRequest

    req = ApprovalRequest.objects.filter(pk=request_id).first()
    if req is None or (req.final or {}).get("phase") != "test":
        return
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=req.object_id, status=Status.IN_REVIEW).first()
        if campaign is None:
            return
        campaign.status = Status.VARIANTS_APPROVED
        campaign.save(update_fields=["status", "updated_at"])
        audit_transition(
            campaign, before=Status.IN_REVIEW, after=campaign.status, actor=None, approval_request=req.pk, outcome=new
        )


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: User, reason: str = "") -> Campaign:
    """Stop a campaign: open approvals are cancelled, nothing else is sent (sent mail stays sent)."""
    from approvals.services import approval_cancel

    require_permission(actor, "marketing.change_campaign")
    campaign = locked(campaign)
    if campaign.status in (Status.SENT, Status.CANCELLED):
        raise InvalidState(f"This campaign is already {campaign.get_status_display().lower()}.")
    before = campaign.status
    request = open_request(campaign)
    if request is not None and request.status == "pending":
        approval_cancel(request_id=request.pk, actor=None, reason=reason or f"Campaign cancelled by {actor}")
    stopped = campaign.sends.filter(status__in=[Send.Status.PENDING, Send.Status.QUEUED]).update(
        status=Send.Status.CANCELLED, error="The campaign was cancelled."
    )
    campaign.status = Status.CANCELLED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    audit_transition(
        campaign, before=before, after=campaign.status, actor=actor, reason=reason[:500], sends_cancelled=stopped
    )
    return campaign

"""Copy variants of a draft campaign: AI proposals, people's own, and the shortlist."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.audit import audit_record
from hitl_crm.permissions import require_permission
from marketing.conf import app_settings
from marketing.models import Campaign, Variant
from marketing.selectors import style_outcomes
from marketing.services._common import VARIANT_FIELDS, Status, apply_fields, clean_single_line, ensure_state, locked


def _copy_inputs(campaign: Campaign, n: int) -> dict[str, Any]:
    from hitl_crm.ai.skills.copy import STYLES, style_weights_from_outcomes

    outcomes = style_outcomes()
    inputs: dict[str, Any] = {"brief": campaign.brief, "n": n, "kind": campaign.copy_kind}
    if campaign.product:
        inputs["product"] = campaign.product
    if campaign.audience_note:
        inputs["audience"] = campaign.audience_note
    if outcomes:
        inputs["style_weights"] = style_weights_from_outcomes({s: outcomes.get(s, {}) for s in STYLES})
    return inputs


@transaction.atomic
def campaign_generate_variants(*, campaign: Campaign, actor: User, n: int = 5) -> tuple[list[Variant], Any]:
    """Ask ``copy_variants`` for ``n`` proposals from the brief, leaning on styles that won before.

    Returns the new (proposed) variants and the AI result. A failed AI run creates nothing
    and raises nothing: ``result.ok`` is False and ``result.error`` says why.
    """
    from hitl_crm.ai.engine import run

    require_permission(actor, "marketing.add_variant")
    campaign = locked(campaign)
    ensure_state(campaign, Status.DRAFT, doing="generate variants")
    if not 1 <= n <= 12:
        raise ValidationError({"n": "Ask for 1 to 12 variants."})
    result = run("copy_variants", _copy_inputs(campaign, n), subject=campaign)
    if not result.ok:
        return [], result
    body = campaign.default_body.strip() or campaign.brief
    created = []
    for item in result.output.get("variants", []):
        text = " ".join(item["text"].split())
        flags = [f"Spam-like words: {', '.join(item['spam_words'])}"] if item.get("spam_words") else []
        if campaign.copy_kind == Campaign.CopyKind.AD:
            subject, variant_body = campaign.name[:150], f"{text}\n\n{body}"
        else:
            subject, variant_body = text[:150], body
        created.append(
            Variant.objects.create(
                campaign=campaign,
                subject=subject,
                body=variant_body,
                style=item["style"],
                origin=Variant.Origin.AI,
                ai_run=result.run,
                ai_score=item.get("score"),
                flags=flags,
                created_by=actor,
            )
        )
    return created, result


def _check_shortlist_room(campaign: Campaign, *, adding: int) -> None:
    current = campaign.variants.filter(status=Variant.Status.APPROVED).count()
    if current + adding > app_settings.MAX_VARIANTS:
        raise ValidationError(
            {"status": f"Shortlist at most {app_settings.MAX_VARIANTS} variants: each one needs its own test cell."}
        )


@transaction.atomic
def variant_create(
    *, campaign: Campaign, actor: User, subject: str, body: str, preheader: str = "", style: str = "own"
) -> Variant:
    """A variant written by a person; it is shortlisted at once (a person chose these words)."""
    require_permission(actor, "marketing.add_variant")
    campaign = locked(campaign)
    ensure_state(campaign, Status.DRAFT, doing="add variants")
    variant = Variant(
        campaign=campaign,
        subject=clean_single_line(subject, "subject", 150),
        preheader=clean_single_line(preheader, "preheader", 150),
        body=(body or "").replace("\r\n", "\n").strip(),
        style=style or "own",
        origin=Variant.Origin.HUMAN,
        status=Variant.Status.APPROVED,
        created_by=actor,
    )
    _check_shortlist_room(campaign, adding=1)
    variant.full_clean()
    variant.save()
    return variant


@transaction.atomic
def variant_update(*, variant: Variant, actor: User, data: dict[str, Any]) -> Variant:
    """Edit a variant's words (draft campaigns only)."""
    require_permission(actor, "marketing.change_variant")
    campaign = locked(variant.campaign)
    ensure_state(campaign, Status.DRAFT, doing="edit variants")
    data = dict(data)
    for name, limit in (("subject", 150), ("preheader", 150)):
        if name in data:
            data[name] = clean_single_line(data[name], name, limit)
    if "body" in data:
        data["body"] = (data["body"] or "").replace("\r\n", "\n").strip()
    variant = Variant.objects.select_for_update().get(pk=variant.pk)
    if apply_fields(variant, data, VARIANT_FIELDS):
        variant.full_clean()
        variant.save()
    return variant


@transaction.atomic
def variant_set_status(*, variant: Variant, actor: User, status: str) -> Variant:
    """Shortlist, reject or reconsider a variant (draft campaigns only); audited with before/after."""
    require_permission(actor, "marketing.change_variant")
    campaign = locked(variant.campaign)
    ensure_state(campaign, Status.DRAFT, doing="change the shortlist")
    if status not in Variant.Status.values:
        raise ValidationError({"status": f"Use one of: {', '.join(Variant.Status.values)}."})
    variant = Variant.objects.select_for_update().get(pk=variant.pk)
    if status == Variant.Status.APPROVED and variant.status != status:
        _check_shortlist_room(campaign, adding=1)
    if variant.status != status:
        before = variant.status
        variant.status = status
        variant.save(update_fields=["status", "updated_at"])
        audit_record(
            verb="marketing.variant_status_changed",
            actor=actor,
            target=variant,
            data={"before": {"status": before}, "after": {"status": status}, "campaign": campaign.pk},
        )
    return variant

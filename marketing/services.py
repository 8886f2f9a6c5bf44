"""Every change to marketing data goes through here, whoever calls: UI, API, tasks, handlers, shell.

Campaign states change only here, under ``select_for_update`` with a re-check of the state.
Sending itself lives in ``marketing.delivery``; the approval handler lives in
``marketing.handlers`` and calls :func:`campaign_release_phase`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.contacts.services import activity_record, contact_create, contact_unsubscribe
from marketing.conf import app_settings
from marketing.models import (
    Campaign,
    ContactScore,
    Conversion,
    PredictiveModel,
    Segment,
    Send,
    Suppression,
    Variant,
)
from marketing.segments import normalise_rules
from marketing.selectors import audience_queryset, open_request, shortlisted, style_outcomes, variant_labels
from marketing.split import bucket, split_plan

logger = logging.getLogger(__name__)

Status = Campaign.Status
COPY_FIELDS = frozenset({"name", "goal", "brief", "product", "audience_note", "copy_kind", "default_body"})
AUDIENCE_FIELDS = frozenset(
    {"segment", "scheduled_at", "test_metric", "baseline_rate", "min_detectable_effect", "power"}
)
VARIANT_FIELDS = frozenset({"subject", "preheader", "body", "style"})
STALL_MINUTES = 10


class InvalidState(ValidationError):
    """The campaign is not in a state that allows this; the message says what it is."""


# --- helpers -----------------------------------------------------------------------------


def _require(actor: AbstractBaseUser | None, permission: str) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(f"You need the “{permission}” permission for this.")


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _ensure(campaign: Campaign, *states: str, doing: str) -> None:
    if campaign.status not in states:
        raise InvalidState(f"This campaign is {campaign.get_status_display().lower()}, so you cannot {doing} now.")


def _clean_single_line(value: str, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if "\n" in value or "\r" in value:
        raise ValidationError({field: "Keep it on one line."})
    if len(value) > max_length:
        raise ValidationError({field: f"Keep it under {max_length} characters."})
    return value


def _apply(instance: Any, data: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    changed = []
    for name, value in data.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


# --- campaigns: building -----------------------------------------------------------------


@transaction.atomic
def campaign_create(*, actor: AbstractBaseUser, name: str, brief: str, **fields: Any) -> Campaign:
    """A draft campaign owned by ``actor``."""
    _require(actor, "marketing.add_campaign")
    campaign = Campaign(name=(name or "").strip(), brief=(brief or "").strip(), owner=actor)
    _apply(campaign, fields, COPY_FIELDS | AUDIENCE_FIELDS)
    campaign.full_clean()
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: AbstractBaseUser, data: dict[str, Any]) -> Campaign:
    """Change the brief and copy settings (draft only) or the audience and test settings (until submitted)."""
    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    if set(data) & COPY_FIELDS:
        _ensure(campaign, Status.DRAFT, doing="change the brief")
    if set(data) & AUDIENCE_FIELDS:
        _ensure(campaign, Status.DRAFT, Status.VARIANTS_APPROVED, doing="change the audience")
    if _apply(campaign, data, COPY_FIELDS | AUDIENCE_FIELDS):
        campaign.full_clean()
        campaign.save()
    return campaign


@transaction.atomic
def campaign_generate_variants(*, campaign: Campaign, actor: AbstractBaseUser, n: int = 5) -> tuple[list[Variant], Any]:
    """Ask ``copy_variants`` for ``n`` proposals from the brief, leaning on styles that won before.

    Returns the new (proposed) variants and the AI result. A failed AI run creates nothing
    and raises nothing: ``result.ok`` is False and ``result.error`` says why.
    """
    from hitl_crm.ai.engine import run
    from hitl_crm.ai.skills.copy import STYLES, style_weights_from_outcomes

    _require(actor, "marketing.add_variant")
    campaign = _locked(campaign)
    _ensure(campaign, Status.DRAFT, doing="generate variants")
    if not 1 <= n <= 12:
        raise ValidationError({"n": "Ask for 1 to 12 variants."})
    outcomes = style_outcomes()
    inputs: dict[str, Any] = {"brief": campaign.brief, "n": n, "kind": campaign.copy_kind}
    if campaign.product:
        inputs["product"] = campaign.product
    if campaign.audience_note:
        inputs["audience"] = campaign.audience_note
    if outcomes:
        inputs["style_weights"] = style_weights_from_outcomes({s: outcomes.get(s, {}) for s in STYLES})
    result = run("copy_variants", inputs, subject=campaign)
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


@transaction.atomic
def variant_create(
    *, campaign: Campaign, actor: AbstractBaseUser, subject: str, body: str, preheader: str = "", style: str = "own"
) -> Variant:
    """A variant written by a person; it is shortlisted at once (a person chose these words)."""
    _require(actor, "marketing.add_variant")
    campaign = _locked(campaign)
    _ensure(campaign, Status.DRAFT, doing="add variants")
    variant = Variant(
        campaign=campaign,
        subject=_clean_single_line(subject, "subject", 150),
        preheader=_clean_single_line(preheader, "preheader", 150),
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
def variant_update(*, variant: Variant, actor: AbstractBaseUser, data: dict[str, Any]) -> Variant:
    """Edit a variant's words (draft campaigns only)."""
    _require(actor, "marketing.change_variant")
    campaign = _locked(variant.campaign)
    _ensure(campaign, Status.DRAFT, doing="edit variants")
    data = dict(data)
    for name, limit in (("subject", 150), ("preheader", 150)):
        if name in data:
            data[name] = _clean_single_line(data[name], name, limit)
    if "body" in data:
        data["body"] = (data["body"] or "").replace("\r\n", "\n").strip()
    variant = Variant.objects.select_for_update().get(pk=variant.pk)
    if _apply(variant, data, VARIANT_FIELDS):
        variant.full_clean()
        variant.save()
    return variant


def _check_shortlist_room(campaign: Campaign, *, adding: int) -> None:
    current = campaign.variants.filter(status=Variant.Status.APPROVED).count()
    if current + adding > app_settings.MAX_VARIANTS:
        raise ValidationError(
            {"status": f"Shortlist at most {app_settings.MAX_VARIANTS} variants: each one needs its own test cell."}
        )


@transaction.atomic
def variant_set_status(*, variant: Variant, actor: AbstractBaseUser, status: str) -> Variant:
    """Shortlist, reject or reconsider a variant (draft campaigns only)."""
    _require(actor, "marketing.change_variant")
    campaign = _locked(variant.campaign)
    _ensure(campaign, Status.DRAFT, doing="change the shortlist")
    if status not in Variant.Status.values:
        raise ValidationError({"status": f"Use one of: {', '.join(Variant.Status.values)}."})
    variant = Variant.objects.select_for_update().get(pk=variant.pk)
    if status == Variant.Status.APPROVED and variant.status != status:
        _check_shortlist_room(campaign, adding=1)
    if variant.status != status:
        variant.status = status
        variant.save(update_fields=["status", "updated_at"])
    return variant


@transaction.atomic
def campaign_lock_variants(*, campaign: Campaign, actor: AbstractBaseUser) -> Campaign:
    """draft → variants_approved: the shortlist is final (1 to MAX_VARIANTS variants with a body)."""
    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    _ensure(campaign, Status.DRAFT, doing="approve the variants")
    chosen = shortlisted(campaign)
    if not chosen:
        raise ValidationError({"variants": "Shortlist at least one variant first."})
    if any(not v.body.strip() for v in chosen):
        raise ValidationError({"variants": "Every shortlisted variant needs a body."})
    campaign.status = Status.VARIANTS_APPROVED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def campaign_unlock_variants(*, campaign: Campaign, actor: AbstractBaseUser) -> Campaign:
    """variants_approved → draft, to edit the copy again."""
    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    _ensure(campaign, Status.VARIANTS_APPROVED, doing="go back to editing")
    campaign.status = Status.DRAFT
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


# --- campaigns: approval -------------------------------------------------------------------


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


@transaction.atomic
def campaign_submit(*, campaign: Campaign, actor: AbstractBaseUser) -> Any:
    """variants_approved → in_review: plan every send and ask for the one approval that allows sending.

    The audience is fixed now (reachable members of the segment), each contact gets a
    deterministic cell; the test cells are what this approval sends, the remainder waits for a
    second, human-confirmed winner approval. Returns the ``ApprovalRequest``.
    """
    from approvals.services import approval_request_create
    from marketing.handlers import SEND_CAMPAIGN

    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    _ensure(campaign, Status.VARIANTS_APPROVED, doing="submit it for approval")
    if open_request(campaign) is not None:
        raise InvalidState("This campaign is already waiting for a decision.")
    if campaign.segment is None:
        raise ValidationError({"segment": "Choose who receives it first."})
    variants = shortlisted(campaign)
    if not 1 <= len(variants) <= app_settings.MAX_VARIANTS:
        raise ValidationError({"variants": f"Shortlist 1 to {app_settings.MAX_VARIANTS} variants."})
    contact_ids = list(
        audience_queryset(normalise_rules(campaign.segment.rules)).order_by("pk").values_list("pk", flat=True)
    )
    if not contact_ids:
        raise ValidationError({"segment": "Nobody in this segment can receive marketing email (consent)."})
    plan = split_plan(
        arms=len(variants),
        audience=len(contact_ids),
        baseline=campaign.baseline_rate,
        mde=campaign.min_detectable_effect,
        power=campaign.power,
        alpha=app_settings.ALPHA,
    )
    if campaign.sends.exclude(status=Send.Status.PENDING).exists():
        raise InvalidState("This campaign has already sent email.")
    campaign.sends.all().delete()  # an earlier, rejected plan
    labels = variant_labels(variants)
    rows, cells = [], Counter()
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
    campaign.split = {
        **plan.as_dict(),
        "audience": len(contact_ids),
        "cells": {labels[v.pk]: cells.get(labels[v.pk], 0) for v in variants},
        "remainder": remainder,
        "variants": [{"id": v.pk, "label": labels[v.pk]} for v in variants],
        "metric": campaign.test_metric,
    }
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
    payload = {
        "campaign_id": campaign.pk,
        "phase": "test",
        "audience_size": len(contact_ids) - remainder,
        "variants": [_variant_payload(v, labels[v.pk]) for v in variants],
        "split": campaign.split,
    }
    return approval_request_create(
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


@transaction.atomic
def campaign_confirm_winner(*, campaign: Campaign, actor: AbstractBaseUser, variant: Variant) -> Any:
    """A person picks the winner after the test: ask for the approval that sends it to the remainder."""
    from approvals.services import approval_request_create
    from marketing.handlers import SEND_CAMPAIGN
    from marketing.selectors import campaign_results

    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    _ensure(campaign, Status.TESTING, doing="send the winner")
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
    flags = []
    if not comparison.significant:
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
    return approval_request_create(
        action=SEND_CAMPAIGN,
        subject=campaign,
        proposal=payload,
        requested_by=actor,
        risk="medium" if flags else "low",
        flags=flags,
        context={"category": "campaign-winner"},
    )


def _batches(campaign: Campaign, phase: str) -> list[list[int]]:
    ids = list(
        campaign.sends.filter(phase=phase, status=Send.Status.QUEUED).order_by("pk").values_list("pk", flat=True)
    )
    size = max(1, app_settings.BATCH_SIZE)
    return [[ids[i], ids[min(i + size, len(ids)) - 1]] for i in range(0, len(ids), size)]


def _enqueue_batches(campaign_id: int, phase: str, batches: list[list[int]]) -> None:
    from marketing.tasks import campaign_send_batch_task

    for first_id, last_id in batches:
        campaign_send_batch_task.delay_on_commit(campaign_id, phase, first_id, last_id)


def campaign_release_phase(
    *, campaign: Campaign, payload: dict[str, Any], execution_key: str, request_id: int
) -> dict[str, Any]:
    """The approval handler's work (runs inside the executor's transaction, campaign row locked).

    Freezes the approved variants, moves exactly this phase's planned rows ``pending →
    queued`` (the winner's remainder gets the winning variant), and enqueues the dispatch
    batches after commit (or leaves them for the scheduler when the campaign is scheduled
    later). Idempotent per ``execution_key``. Raises ``InvalidState`` (the request fails, nothing
    is sent) when the campaign is not where the approval expects it.
    """
    phase = payload["phase"]
    done = (campaign.approved_content or {}).get(phase)
    if done and done.get("key") == execution_key:
        return {**done.get("result", {}), "duplicate": True}
    if done:
        raise InvalidState(f"The {phase} phase of this campaign was already approved by another request.")
    expected = Status.IN_REVIEW if phase == "test" else Status.TESTING
    _ensure(campaign, expected, doing=f"release the {phase} phase")
    pending = campaign.sends.filter(phase=phase, status=Send.Status.PENDING)
    count = pending.count()
    if count > payload["audience_size"]:
        raise InvalidState(f"{count} planned sends but only {payload['audience_size']} were approved.")
    approved = {
        str(v["id"]): {k: v[k] for k in ("label", "subject", "preheader", "body", "style")} for v in payload["variants"]
    }
    now = timezone.now()
    if phase == "winner":
        winner_id = payload["variants"][0]["id"]
        pending.update(variant_id=winner_id, status=Send.Status.QUEUED)
        campaign.winner_variant_id = winner_id
    else:
        if pending.exclude(variant_id__in=[int(i) for i in approved]).exists():
            raise InvalidState("Some planned sends use a variant that was not approved.")
        pending.update(status=Send.Status.QUEUED)
    batches = _batches(campaign, phase)
    due = phase == "winner" or campaign.scheduled_at is None or campaign.scheduled_at <= now
    result = {
        "phase": phase,
        "queued": count,
        "batches": len(batches),
        "status": Status.SENDING if due else Status.SCHEDULED,
    }
    campaign.approved_content = {
        **(campaign.approved_content or {}),
        phase: {
            "key": execution_key,
            "request": request_id,
            "approved_at": now.isoformat(),
            "variants": approved,
            "batches": batches,
            "result": result,
        },
    }
    campaign.status = result["status"]
    campaign.started_at = campaign.started_at or (now if due else None)
    campaign.save(update_fields=["approved_content", "status", "started_at", "winner_variant", "updated_at"])
    if due:
        _enqueue_batches(campaign.pk, phase, batches)
    if not count:
        transaction.on_commit(lambda: campaign_phase_check_finished(campaign_id=campaign.pk, phase=phase))
    return result


def on_approval_status_changed(sender: Any, *, request_id: int, action: str, old: str, new: str, **kwargs: Any) -> None:
    """A test-phase request that closed without executing hands the campaign back to the marketer."""
    from marketing.handlers import SEND_CAMPAIGN

    if action != SEND_CAMPAIGN or new not in {"rejected", "cancelled", "expired", "failed"}:
        return
    from approvals.models import ApprovalRequest

    req = ApprovalRequest.objects.filter(pk=request_id).first()
    if req is None or (req.final or {}).get("phase") != "test":
        return
    Campaign.objects.filter(pk=req.object_id, status=Status.IN_REVIEW).update(
        status=Status.VARIANTS_APPROVED, updated_at=timezone.now()
    )


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: AbstractBaseUser, reason: str = "") -> Campaign:
    """Stop a campaign: open approvals are cancelled, nothing else is sent (sent mail stays sent)."""
    from approvals.services import approval_cancel

    _require(actor, "marketing.change_campaign")
    campaign = _locked(campaign)
    if campaign.status in (Status.SENT, Status.CANCELLED):
        raise InvalidState(f"This campaign is already {campaign.get_status_display().lower()}.")
    request = open_request(campaign)
    if request is not None and request.status == "pending":
        approval_cancel(request_id=request.pk, actor=None, reason=reason or f"Campaign cancelled by {actor}")
    campaign.sends.filter(status__in=[Send.Status.PENDING, Send.Status.QUEUED]).update(
        status=Send.Status.CANCELLED, error="The campaign was cancelled."
    )
    campaign.status = Status.CANCELLED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    return campaign


# --- campaigns: sending progress (tasks) ----------------------------------------------------


def campaign_phase_check_finished(*, campaign_id: int, phase: str) -> str | None:
    """sending → testing (remainder waits for a winner) or sent, once nothing of ``phase`` is in flight."""
    in_flight = Send.objects.filter(
        campaign_id=campaign_id, phase=phase, status__in=[Send.Status.QUEUED, Send.Status.SENDING]
    )
    if in_flight.exists():
        return None
    waiting = (
        phase == "test"
        and Send.objects.filter(campaign_id=campaign_id, phase=Send.Phase.WINNER, status=Send.Status.PENDING).exists()
    )
    new = Status.TESTING if waiting else Status.SENT
    now = timezone.now()
    changed = Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
        status=new, finished_at=None if waiting else now, updated_at=now
    )
    return new if changed else None


def campaign_dispatch_due(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: start scheduled campaigns whose time has come; re-enqueue stalled batches.

    Re-enqueueing is always safe: each row is claimed once, and a range held by a live
    worker is left to it.
    """
    now = now or timezone.now()
    started = 0
    for campaign_id in Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().filter(pk=campaign_id, status=Status.SCHEDULED).first()
            if campaign is None:
                continue
            campaign.status = Status.SENDING
            campaign.started_at = now
            campaign.save(update_fields=["status", "started_at", "updated_at"])
            _enqueue_batches(campaign.pk, "test", (campaign.approved_content.get("test") or {}).get("batches", []))
            started += 1
    requeued = 0
    stall = now - timedelta(minutes=STALL_MINUTES)
    for campaign in Campaign.objects.filter(status=Status.SENDING, started_at__lt=stall):
        last = campaign.sends.aggregate(last=Max("sent_at"), claimed=Max("claimed_at"))
        recent = max((t for t in last.values() if t is not None), default=None)
        if recent is not None and recent > stall:
            continue
        for phase, content in (campaign.approved_content or {}).items():
            open_rows = campaign.sends.filter(phase=phase, status__in=[Send.Status.QUEUED, Send.Status.SENDING])
            if not open_rows.exists():
                campaign_phase_check_finished(campaign_id=campaign.pk, phase=phase)
                continue
            batches = [b for b in content.get("batches", []) if open_rows.filter(pk__gte=b[0], pk__lte=b[1]).exists()]
            with transaction.atomic():
                _enqueue_batches(campaign.pk, phase, batches)
            requeued += len(batches)
    return {"started": started, "requeued": requeued}


# --- tracking, unsubscribe, conversions ------------------------------------------------------


def send_record_open(*, send_id: int) -> bool:
    """The first open of a sent email (the pixel); later opens change nothing."""
    return bool(
        Send.objects.filter(pk=send_id, status=Send.Status.SENT, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
    )


@transaction.atomic
def send_record_click(*, send_id: int, url: str) -> str | None:
    """The destination if ``url`` is a link of the approved email of this send (else None: no open redirect).

    The first click is noted (and counts as an open: images are often blocked) and written to the
    contact's timeline.
    """
    from marketing.delivery import approved_copy, extract_urls

    send = Send.objects.select_related("campaign", "contact").filter(pk=send_id, status=Send.Status.SENT).first()
    if send is None:
        return None
    copy = approved_copy(send.campaign, send.phase).get(str(send.variant_id))
    if copy is None or url not in extract_urls(copy["body"]):
        return None
    now = timezone.now()
    first = Send.objects.filter(pk=send.pk, clicked_at__isnull=True).update(clicked_at=now)
    Send.objects.filter(pk=send.pk, opened_at__isnull=True).update(opened_at=now)
    if first:
        activity_record(
            contact=send.contact,
            kind=Activity.Kind.SITE_VISIT,
            source="marketing",
            summary=f"Clicked {url} in the campaign “{send.campaign.name}”"[:300],
            data={"campaign": send.campaign_id, "send": send.pk, "url": url},
        )
    return url


@transaction.atomic
def suppression_add(
    *, email: str, reason: str = Suppression.Reason.MANUAL, source: str = "", actor: AbstractBaseUser | None = None
) -> Suppression:
    """Never email ``email`` again (idempotent; the first reason is kept)."""
    if actor is not None:
        _require(actor, "marketing.add_suppression")
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": "Enter an email address."})
    if reason not in Suppression.Reason.values:
        raise ValidationError({"reason": f"Use one of: {', '.join(Suppression.Reason.values)}."})
    suppression, _ = Suppression.objects.get_or_create(email=email, defaults={"reason": reason, "source": source[:60]})
    return suppression


@transaction.atomic
def send_unsubscribe(*, send_id: int, source: str) -> Send | None:
    """The recipient of this send leaves: suppression list, consent withdrawn, timeline entry."""
    send = Send.objects.select_related("contact").filter(pk=send_id).first()
    if send is None:
        return None
    if send.contact.email:
        suppression_add(email=send.contact.email, reason=Suppression.Reason.UNSUBSCRIBED, source=source)
    contact_unsubscribe(contact=send.contact, source="marketing")
    Send.objects.filter(pk=send.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
    return send


@transaction.atomic
def conversion_record(
    *, send: Send, occurred_at: datetime, value: Decimal | None = None, external_id: str = "", source: str = "api"
) -> tuple[Conversion, bool]:
    """Credit a conversion to a sent email; a repeated ``external_id`` returns the first one."""
    if send.status != Send.Status.SENT:
        raise ValidationError({"send": "Only an email that was sent can convert."})
    if external_id:
        existing = Conversion.objects.filter(send=send, external_id=external_id).first()
        if existing is not None:
            return existing, False
    conversion = Conversion.objects.create(
        send=send, occurred_at=occurred_at, value=value, external_id=external_id[:100], source=source[:40]
    )
    Send.objects.filter(pk=send.pk).filter(Q(converted_at__isnull=True) | Q(converted_at__gt=occurred_at)).update(
        converted_at=occurred_at
    )
    activity_record(
        contact=send.contact,
        kind=Activity.Kind.PURCHASE,
        source=source[:40],
        occurred_at=occurred_at,
        summary=f"Converted after the campaign “{send.campaign.name}”"[:300],
        data={"campaign": send.campaign_id, "send": send.pk, "value": str(value or ""), "external_id": external_id},
    )
    return conversion, True


# --- segments ----------------------------------------------------------------------------


@transaction.atomic
def segment_create(*, actor: AbstractBaseUser, name: str, rules: Any, description: str = "") -> Segment:
    _require(actor, "marketing.add_segment")
    segment = Segment(
        name=(name or "").strip(), description=(description or "").strip(), rules=normalise_rules(rules), owner=actor
    )
    segment.full_clean()
    segment.save()
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, actor: AbstractBaseUser, data: dict[str, Any]) -> Segment:
    """Rename or change the rules; campaigns already submitted keep the audience they planned."""
    _require(actor, "marketing.change_segment")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    data = dict(data)
    if "rules" in data:
        data["rules"] = normalise_rules(data["rules"])
    if _apply(segment, data, frozenset({"name", "description", "rules"})):
        segment.full_clean()
        segment.save()
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: AbstractBaseUser) -> None:
    _require(actor, "marketing.delete_segment")
    if segment.campaigns.exists():
        raise ValidationError({"segment": "Campaigns use this segment; it cannot be deleted."})
    segment.delete()


# --- predictive scores ---------------------------------------------------------------------


def _label_vector(kind: str, contacts, *, label_attribute: str, now: datetime, as_of: datetime):
    from marketing.predictive import label_value

    if kind == PredictiveModel.Kind.CHURN:
        raw = contacts.values_list("pk", f"attributes__{label_attribute}")
        return {pk: label_value(value) for pk, value in raw}
    bought = set(
        Activity.objects.filter(
            kind=Activity.Kind.PURCHASE, occurred_at__gte=as_of, occurred_at__lt=now, contact__in=contacts.values("pk")
        ).values_list("contact_id", flat=True)
    )
    return {pk: int(pk in bought) for pk in contacts.values_list("pk", flat=True)}


def predictive_model_train(
    *,
    kind: str,
    contacts=None,
    label_attribute: str | None = None,
    seed: int = 20240601,
    test_size: float = 0.2,
    now: datetime | None = None,
    activate: bool = True,
) -> PredictiveModel:
    """Train churn or propensity on the CRM's contacts, evaluate on a fixed-seed stratified hold-out,
    store the model as JSON (and make it the active one). Raises ``TrainingError`` when the data
    cannot support a model."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from marketing.predictive import check_labels, fit_spec, predict, records_for, roc_auc

    if kind not in PredictiveModel.Kind.values:
        raise ValidationError({"kind": f"Use one of: {', '.join(PredictiveModel.Kind.values)}."})
    now = now or timezone.now()
    label_attribute = label_attribute or app_settings.CHURN_LABEL_ATTRIBUTE
    contacts = contacts if contacts is not None else Contact.objects.all()
    horizon = timedelta(days=app_settings.PROPENSITY_HORIZON_DAYS)
    as_of = now if kind == PredictiveModel.Kind.CHURN else now - horizon
    if kind == PredictiveModel.Kind.PROPENSITY:
        contacts = contacts.filter(created_at__lt=as_of)
    labels_by_pk = _label_vector(kind, contacts, label_attribute=label_attribute, now=now, as_of=as_of)
    exclude = (*app_settings.IGNORED_ATTRIBUTES, label_attribute)
    records = [
        r for r in records_for(contacts, as_of=as_of, exclude=exclude) if labels_by_pk.get(r.contact_id) is not None
    ]
    labels = np.array([labels_by_pk[r.contact_id] for r in records], dtype=int)
    check_labels(labels)
    train_idx, test_idx = train_test_split(
        np.arange(len(records)), test_size=test_size, random_state=seed, stratify=labels
    )
    params = fit_spec([records[i] for i in train_idx], labels[train_idx])
    scores = predict(params, [records[i] for i in test_idx])
    test_labels = labels[test_idx]
    metrics = {
        "roc_auc": round(roc_auc(test_labels, scores), 4),
        "accuracy": round(float(((scores >= 0.5).astype(int) == test_labels).mean()), 4),
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "positives": int(labels.sum()),
        "base_rate": round(float(labels.mean()), 4),
        "seed": seed,
        "features": len(params["features"]),
    }
    params["label"] = (
        {"type": "attribute", "key": label_attribute}
        if kind == PredictiveModel.Kind.CHURN
        else {"type": "purchase_within_days", "days": horizon.days}
    )
    params["exclude"] = list(exclude)
    with transaction.atomic():
        version = (PredictiveModel.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0) + 1
        if activate:
            PredictiveModel.objects.filter(kind=kind, active=True).update(active=False)
        model = PredictiveModel.objects.create(
            kind=kind, version=version, params=params, metrics=metrics, trained_at=now, active=activate
        )
    logger.info(
        "Trained %s v%s: ROC AUC %.3f on %s held-out contacts", kind, version, metrics["roc_auc"], metrics["n_test"]
    )
    return model


def contact_scores_refresh(*, kind: str, contacts=None, now: datetime | None = None, chunk: int = 5000) -> int:
    """Score contacts with the active model of ``kind`` (bulk upsert); returns how many were scored."""
    from marketing.predictive import explain, predict, records_for

    model = PredictiveModel.objects.filter(kind=kind, active=True).first()
    if model is None:
        return 0
    now = now or timezone.now()
    contacts = contacts if contacts is not None else Contact.objects.all()
    exclude = tuple(model.params.get("exclude", ()))
    ids = list(contacts.order_by("pk").values_list("pk", flat=True))
    scored = 0
    for start in range(0, len(ids), chunk):
        part = Contact.objects.filter(pk__in=ids[start : start + chunk])
        records = records_for(part, as_of=now, exclude=exclude)
        values = predict(model.params, records)
        factors = explain(model.params, records)
        rows = [
            ContactScore(
                contact_id=r.contact_id,
                kind=kind,
                value=round(float(v), 4),
                factors=f,
                model_version=model.version,
                scored_at=now,
            )
            for r, v, f in zip(records, values, factors, strict=True)
        ]
        ContactScore.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["contact", "kind"],
            update_fields=["value", "factors", "model_version", "scored_at"],
        )
        scored += len(rows)
    return scored


def predictive_retrain(*, now: datetime | None = None) -> dict[str, Any]:
    """Beat: retrain both models and rescore everyone; a model that cannot be trained keeps the old one."""
    from marketing.predictive import TrainingError

    report: dict[str, Any] = {}
    for kind in PredictiveModel.Kind.values:
        try:
            model = predictive_model_train(kind=kind, now=now)
            report[kind] = {
                "version": model.version,
                "roc_auc": model.metrics["roc_auc"],
                "scored": contact_scores_refresh(kind=kind, now=now),
            }
        except TrainingError as exc:
            logger.warning("Not retraining %s: %s", kind, exc)
            report[kind] = {"error": str(exc), "scored": contact_scores_refresh(kind=kind, now=now)}
    return report


# --- importing customers with attributes (evaluation, migrations from other tools) ----------


@transaction.atomic
def contacts_import_attributes(
    *, rows: Iterable[dict[str, Any]], id_field: str, source: str, actor: AbstractBaseUser | None = None
) -> dict[str, int]:
    """Create one contact per row (numbers typed, blanks as missing), keyed by ``source:id``.

    Cells are typed by :func:`hitl_crm.coercion.coerce_attribute`, as in every import. Rows whose
    key was imported before are skipped, so running an import twice adds nothing.
    """
    from hitl_crm.coercion import coerce_attribute

    rows = list(rows)
    keys = [f"{source}:{row[id_field]}" for row in rows]
    existing = set(
        Contact.objects.filter(attributes__external_id__in=keys).values_list("attributes__external_id", flat=True)
    )
    created = skipped = 0
    for key, row in zip(keys, rows, strict=True):
        if key in existing:
            skipped += 1
            continue
        attributes = {k: coerce_attribute(v) for k, v in row.items() if k != id_field}
        attributes["external_id"] = key
        contact_create(actor=actor, source="import", last_name=str(row[id_field])[:100], attributes=attributes)
        existing.add(key)
        created += 1
    return {"created": created, "skipped": skipped}

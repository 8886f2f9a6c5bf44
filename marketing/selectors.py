"""Reads for marketing. Selectors that take a ``user`` return only what that user may see."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Lower, TruncDate
from django.db.models.lookups import In
from django.utils import timezone

from hitl_crm.contacts.models import Contact
from marketing.conf import app_settings
from marketing.models import Campaign, ContactScore, Segment, Send, Suppression, Variant
from marketing.segments import compile_rules
from marketing.split import split_plan
from marketing.stats import Arm, compare_arms, verdict_sentence, wilson_interval

OPEN_REQUEST_STATUSES = ("pending", "approved", "executing")


# --- audiences -------------------------------------------------------------------------


def reachable_q() -> Q:
    """Contacts who may receive marketing email now: an address, consent, not unsubscribed or suppressed."""
    # Uncorrelated "NOT IN": evaluated once (hashed), not once per contact.
    suppressed: In[str] = In(Lower("email"), Suppression.objects.values("email"))
    return Q(email_consent=True, unsubscribed_at__isnull=True) & ~Q(email="") & ~Q(suppressed)


def segment_queryset(rules: list[dict[str, Any]]) -> QuerySet[Contact]:
    """Every contact matching the (normalised) rules, reachable or not."""
    return Contact.objects.filter(compile_rules(rules))


def audience_queryset(rules: list[dict[str, Any]]) -> QuerySet[Contact]:
    """The contacts a campaign to this segment may email."""
    return Contact.objects.filter(compile_rules(rules) & reachable_q())


def segment_counts(*, rules: list[dict[str, Any]]) -> dict[str, int]:
    """``{"matching": …, "reachable": …}`` in one query."""
    return Contact.objects.filter(compile_rules(rules)).aggregate(
        matching=Count("pk"), reachable=Count("pk", filter=reachable_q())
    )


def segment_list(*, user: User) -> QuerySet[Segment]:
    if not user.has_perm("marketing.view_segment"):
        return Segment.objects.none()
    return Segment.objects.select_related("owner")


def segments_with_counts(*, user: User, segments: list[Segment]) -> list[tuple[Segment, int, int]]:
    """Matching and reachable counts for several segments in one aggregate query."""
    if not segments or not user.has_perm("contacts.view_contact"):
        return [(s, 0, 0) for s in segments]
    from marketing.segments import normalise_rules

    reach = reachable_q()
    aggregates = {}
    for segment in segments:
        condition = compile_rules(normalise_rules(segment.rules))
        aggregates[f"m{segment.pk}"] = Count("pk", filter=condition)
        aggregates[f"r{segment.pk}"] = Count("pk", filter=condition & reach)
    totals = Contact.objects.aggregate(**aggregates)
    return [(s, totals[f"m{s.pk}"], totals[f"r{s.pk}"]) for s in segments]


def segment_preview(*, user: User, rules: list[dict[str, Any]], limit: int = 10) -> list[Contact]:
    """A few matching contacts with their churn and propensity scores (two queries)."""
    if not user.has_perm("contacts.view_contact"):
        return []
    scores = ContactScore.objects.only("contact_id", "kind", "value", "factors")
    return list(
        segment_queryset(rules)
        .select_related("account")
        .prefetch_related(Prefetch("marketing_scores", queryset=scores, to_attr="score_list"))
        .order_by("-last_activity_at", "pk")[:limit]
    )


def scores_by_kind(contact: Contact) -> dict[str, ContactScore]:
    return {s.kind: s for s in getattr(contact, "score_list", None) or contact.marketing_scores.all()}


# --- campaigns -------------------------------------------------------------------------


def _open_request_exists() -> Exists:
    from approvals.models import ApprovalRequest
    from marketing.handlers import SEND_CAMPAIGN

    return Exists(
        ApprovalRequest.objects.filter(
            action=SEND_CAMPAIGN,
            content_type=ContentType.objects.get_for_model(Campaign),
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
            status__in=OPEN_REQUEST_STATUSES,
        )
    )


def campaign_list(*, user: User) -> QuerySet[Campaign]:
    """Campaigns the user may see, with the shortlist size and whether a decision is pending."""
    if not user.has_perm("marketing.view_campaign"):
        return Campaign.objects.none()
    shortlist = (
        Variant.objects.filter(campaign=OuterRef("pk"), status=Variant.Status.APPROVED)
        .order_by()
        .values("campaign")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Campaign.objects.select_related("segment", "owner").annotate(
        n_variants=Coalesce(Subquery(shortlist, output_field=IntegerField()), Value(0)),
        awaiting_decision=_open_request_exists(),
    )


def campaign_list_stats(campaigns: list[Campaign]) -> dict[int, dict[str, int]]:
    """Sent / opened / clicked per campaign for one page of campaigns, in one query."""
    rows = (
        Send.objects.filter(campaign__in=[c.pk for c in campaigns], status=Send.Status.SENT)
        .values("campaign")
        .annotate(
            sent=Count("pk"),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )
        .order_by()
    )
    stats = {c.pk: {"sent": 0, "opened": 0, "clicked": 0} for c in campaigns}
    for row in rows:
        stats[row["campaign"]] = {k: row[k] for k in ("sent", "opened", "clicked")}
    return stats


def campaign_get(*, user: User, pk: int) -> Campaign:
    """One campaign the user may see; ``Campaign.DoesNotExist`` otherwise."""
    return campaign_list(user=user).select_related("winner_variant").get(pk=pk)


def campaign_requests(campaign: Campaign) -> list[Any]:
    """The campaign's approval requests, newest first."""
    from approvals.models import ApprovalRequest
    from marketing.handlers import SEND_CAMPAIGN

    return list(
        ApprovalRequest.objects.filter(
            action=SEND_CAMPAIGN,
            content_type=ContentType.objects.get_for_model(Campaign),
            object_id=str(campaign.pk),
        ).order_by("-id")
    )


def open_request(campaign: Campaign) -> Any | None:
    return next((r for r in campaign_requests(campaign) if r.status in OPEN_REQUEST_STATUSES), None)


def shortlisted(campaign: Campaign) -> list[Variant]:
    return list(campaign.variants.filter(status=Variant.Status.APPROVED).order_by("id"))


def variant_labels(variants: list[Variant]) -> dict[int, str]:
    return {v.pk: chr(ord("A") + i) for i, v in enumerate(sorted(variants, key=lambda v: v.pk))}


def campaign_plan_preview(campaign: Campaign) -> dict[str, Any]:
    """Audience counts and the test-cell sizes the calculator gives, for the builder's live panel."""
    from marketing.segments import normalise_rules

    arms = max(1, len(shortlisted(campaign)))
    counts = segment_counts(rules=normalise_rules(campaign.segment.rules)) if campaign.segment else None
    audience = counts["reachable"] if counts else 0
    try:
        plan = split_plan(
            arms=arms,
            audience=audience,
            baseline=campaign.baseline_rate,
            mde=campaign.min_detectable_effect,
            power=campaign.power,
            alpha=app_settings.ALPHA,
        )
    except ValueError as exc:
        return {"counts": counts, "plan": None, "error": str(exc), "arms": arms}
    return {"counts": counts, "plan": plan, "error": "", "arms": arms}


def campaign_progress(campaign: Campaign) -> dict[str, int]:
    """Sends by status (one query)."""
    rows = campaign.sends.values("status").annotate(n=Count("pk")).order_by()
    progress = dict.fromkeys(Send.Status.values, 0)
    progress.update({row["status"]: row["n"] for row in rows})
    progress["total"] = sum(row["n"] for row in rows)
    return progress


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    label: str
    sent: int
    opened: int
    clicked: int
    converted: int
    unsubscribed: int
    successes: int
    rate: float
    low: float
    high: float


_METRIC_FIELD = {"open": "opened", "click": "clicked", "conversion": "converted"}
_METRIC_WORD = {"open": "opens", "click": "clicks", "conversion": "conversions"}


def campaign_results(campaign: Campaign) -> dict[str, Any]:
    """Rates per variant with 95 % Wilson intervals, the leader's p-value and a plain verdict.

    Counts are over sends that went out; the test compares the test cells only (the winner's
    remainder would bias its variant's numbers once it is sent).
    """
    base = Send.objects.filter(campaign=campaign, status=Send.Status.SENT, variant__isnull=False)
    counters = {
        "sent": Count("pk"),
        "opened": Count("pk", filter=Q(opened_at__isnull=False)),
        "clicked": Count("pk", filter=Q(clicked_at__isnull=False)),
        "converted": Count("pk", filter=Q(converted_at__isnull=False)),
        "unsubscribed": Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    }
    test_rows = {
        r["variant"]: r for r in base.filter(phase=Send.Phase.TEST).values("variant").annotate(**counters).order_by()
    }
    all_rows = {r["variant"]: r for r in base.values("variant").annotate(**counters).order_by()}
    variants = list(campaign.variants.filter(pk__in=set(all_rows) | {v.pk for v in shortlisted(campaign)}))
    labels = variant_labels([v for v in variants if v.status == Variant.Status.APPROVED] or variants)
    metric = campaign.test_metric
    field = _METRIC_FIELD[metric]
    results = []
    for variant in sorted(variants, key=lambda v: labels.get(v.pk, "Z")):
        row = test_rows.get(variant.pk) or dict.fromkeys(counters, 0)
        successes = row[field]
        low, high = wilson_interval(successes, row["sent"])
        results.append(
            VariantResult(
                variant=variant,
                label=labels.get(variant.pk, "?"),
                sent=row["sent"],
                opened=row["opened"],
                clicked=row["clicked"],
                converted=row["converted"],
                unsubscribed=row["unsubscribed"],
                successes=successes,
                rate=successes / row["sent"] if row["sent"] else 0.0,
                low=low,
                high=high,
            )
        )
    arms = [Arm(r.label, r.successes, r.sent) for r in results]
    comparison = compare_arms(arms, app_settings.ALPHA)
    needed = (campaign.split or {}).get("needed_per_arm")
    totals = {k: sum(r.get(k, 0) for r in all_rows.values()) for k in counters}
    leader = next((r for r in results if comparison.leader and r.label == comparison.leader.label), None)
    return {
        "metric": metric,
        "metric_word": _METRIC_WORD[metric],
        "variants": results,
        "comparison": comparison,
        "sentence": verdict_sentence(
            arms, metric=_METRIC_WORD[metric], alpha=app_settings.ALPHA, needed_per_arm=needed
        ),
        "suggested": leader.variant if leader and len(results) > 1 else None,
        "significant": comparison.significant,
        "totals": totals,
        "remainder": Send.objects.filter(
            campaign=campaign, phase=Send.Phase.WINNER, status=Send.Status.PENDING
        ).count(),
    }


def campaign_daily(campaign: Campaign, *, days: int = 14) -> dict[str, list[tuple[str, float | None]]]:
    """Opens and clicks per day since the first send (at most ``days`` days), zero-filled."""
    first = campaign.sends.filter(sent_at__isnull=False).order_by("sent_at").values_list("sent_at", flat=True).first()
    if first is None:
        return {}
    start: date = timezone.localtime(first).date()
    end = min(timezone.localdate(), start + timedelta(days=days - 1))
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for name, column in (("Opens", "opened_at"), ("Clicks", "clicked_at")):
        rows = (
            campaign.sends.filter(**{f"{column}__isnull": False, f"{column}__date__lte": end})
            .annotate(day=TruncDate(column))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        series[name] = {row["day"]: row["n"] for row in rows}
    span = (end - start).days + 1
    return {
        name: [((start + timedelta(days=i)).isoformat(), counts.get(start + timedelta(days=i), 0)) for i in range(span)]
        for name, counts in series.items()
    }


def style_outcomes() -> dict[str, dict[str, int]]:
    """``{style: {"wins", "trials"}}`` over finished A/B tests: each tested variant is a trial of its
    style; the variant a person confirmed as the winner is a win. Feeds ``copy_variants``."""
    trials = (
        Variant.objects.filter(campaign__winner_variant__isnull=False, status=Variant.Status.APPROVED)
        .values("style")
        .annotate(n=Count("pk"))
        .order_by()
    )
    wins = (
        Campaign.objects.filter(winner_variant__isnull=False)
        .values(style=F("winner_variant__style"))
        .annotate(n=Count("pk"))
        .order_by()
    )
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"wins": 0, "trials": 0})
    for row in trials:
        out[row["style"]]["trials"] = row["n"]
    for row in wins:
        out[row["style"]]["wins"] = row["n"]
    return dict(out)


def campaign_counts(*, user: User) -> dict[str, int]:
    if not user.has_perm("marketing.view_campaign"):
        return {}
    return Campaign.objects.aggregate(
        in_review=Count("pk", filter=Q(status=Campaign.Status.IN_REVIEW)),
        running=Count(
            "pk", filter=Q(status__in=[Campaign.Status.SENDING, Campaign.Status.SCHEDULED, Campaign.Status.TESTING])
        ),
        drafts=Count("pk", filter=Q(status__in=[Campaign.Status.DRAFT, Campaign.Status.VARIANTS_APPROVED])),
    )


def campaign_search(*, user: User, query: str, limit: int = 8) -> list[Campaign]:
    """Campaigns the user may see whose name, product or goal matches every word of ``query``, newest first."""
    if not query.strip() or not user.has_perm("marketing.view_campaign"):
        return []
    qs = Campaign.objects.select_related("segment", "owner")
    for word in query.split()[:5]:
        qs = qs.filter(Q(name__icontains=word) | Q(product__icontains=word) | Q(goal__icontains=word))
    return list(qs.order_by("-pk")[:limit])

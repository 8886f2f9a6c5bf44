"""Reads for leads. Selectors that take a ``user`` return only what that user may see."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from hitl_crm.counters import cached_count
from hitl_crm.paging import SortKey
from leads.models import Lead, LeadEvent, LeadImport, LeadScoreHistory, ScoringModel, ScoringRule, rank_expression

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest
    from hitl_crm.ai.models import AiRun

OPEN = (Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.QUALIFIED)
SCOPES = ("team", "mine")


def lead_rank_keys() -> list[SortKey]:
    """The prospects order: the hottest first, leads not scored yet last, the newest first among
    equals. The score is coalesced to ``leads.models.UNSCORED_RANK`` (below every score) rather than sorted
    ``NULLS LAST``, so the key is never NULL and the order is exactly the ``leads_rank_listed`` index
    (``COALESCE(score, -1) DESC, id DESC``): a page, first or deep, is a range of that index."""
    return [
        SortKey("rank", rank_expression(), descending=True),
        SortKey("id", F("id"), descending=True),
    ]


def _signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def lead_visible_to(*, user: User) -> QuerySet[Lead]:
    """Every lead for users with ``leads.view_lead`` (the team's pipeline), none otherwise."""
    if not _signed_in(user) or not user.has_perm("leads.view_lead"):
        return Lead.objects.none()
    return Lead.objects.all()


def lead_list(
    *,
    user: User,
    scope: str = "team",
    tier: str = "",
    status: str = "open",
    source: str = "",
    search: str = "",
) -> QuerySet[Lead]:
    """The hottest prospects first (``lead_rank_keys``: score, unscored last, then newest), filtered.

    ``status`` "open" (new, working, qualified), "all", or one status. Rows carry owner and
    account; factors are stored on the row, so a page costs the same queries for any size.
    """
    qs = lead_visible_to(user=user).select_related("owner", "account")
    if scope == "mine":
        qs = qs.filter(owner=user)
    if tier in Lead.Tier.values:
        qs = qs.filter(tier=tier)
    if status == "open":
        qs = qs.filter(status__in=OPEN)
    elif status in Lead.Status.values:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(source__iexact=source)
    for word in search.split()[:5]:
        # The maintained column (email, names, company, linked account's name): every word must match;
        # trigram-indexed on PostgreSQL.
        qs = qs.filter(search_text__contains=word.lower())
    return qs.order_by(*(key.order_by() for key in lead_rank_keys()))


def lead_sources(*, user: User, limit: int = 50) -> list[str]:
    """The most common sources (for the filter). A GROUP BY over every lead, so it is a kernel
    counter: counted at most once per ``HITL_CRM_COUNTER_SECONDS`` per user, not on every page."""

    def compute() -> list[str]:
        leads = lead_visible_to(user=user).exclude(source="")
        rows = leads.values("source").annotate(n=Count("id")).order_by("-n")[:limit]
        return sorted(row["source"] for row in rows)

    return cached_count(f"leads:sources:{limit}", compute, user_id=user.pk)


def lead_get(*, user: User, pk: int) -> Lead:
    return lead_visible_to(user=user).select_related("owner", "account", "contact", "override_by").get(pk=pk)


def lead_owner_choices(*, user: User, current_id: int | None = None) -> QuerySet[User]:
    """Who a lead can be given to: active users who may work leads (``leads.change_lead`` through a
    role, directly, or as superusers), plus the current owner so a form can keep them. None for
    users who cannot see leads."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    if not _signed_in(user) or not user.has_perm("leads.view_lead"):
        return users.none()
    perm = Q(content_type__app_label="leads", codename="change_lead")
    from django.contrib.auth.models import Permission

    perm_ids = Permission.objects.filter(perm).values("pk")
    may = Q(is_superuser=True) | Q(groups__permissions__in=perm_ids) | Q(user_permissions__in=perm_ids)
    if current_id is not None:
        may |= Q(pk=current_id)
    ids = users.filter(may).values("pk")
    return users.filter(pk__in=ids).order_by("first_name", "last_name", "username")


def lead_timeline(*, lead: Lead) -> QuerySet[LeadEvent]:
    return lead.events.order_by("-occurred_at", "-id")


def lead_score_history(*, lead: Lead, limit: int = 60) -> list[LeadScoreHistory]:
    """Newest first."""
    return list(lead.score_history.select_related("actor").order_by("-created_at", "-id")[:limit])


def score_series(history: list[LeadScoreHistory]) -> dict[str, list[tuple[str, float]]]:
    """The score over time for ``line_chart`` (oldest first; one point per entry)."""
    points = [(h.created_at.strftime("%m-%d %H:%M"), float(h.score)) for h in reversed(history)]
    return {"Score": points} if points else {}


def lead_stats(*, user: User) -> dict[str, int]:
    """Open tier-A leads (the team's) and the user's own open leads, for the dashboard; a kernel
    counter (per user: ``mine_open`` is theirs), so a dashboard visit does not count every lead."""

    def compute() -> dict[str, int]:
        qs = lead_visible_to(user=user).filter(status__in=OPEN)
        return qs.aggregate(
            a_tier_open=Count("id", filter=Q(tier=Lead.Tier.A)),
            mine_open=Count("id", filter=Q(owner_id=user.pk)),
        )

    return cached_count("leads:stats", compute, user_id=user.pk)


# --- follow-ups ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupState:
    open_request: ApprovalRequest | None
    drafting: bool
    ai_failed: AiRun | None  # the latest draft run failed and nothing newer was proposed
    recent: list[ApprovalRequest]  # newest first, with their decisions
    can_decide: tuple[bool, str] | None
    blocker: str


def lead_followups(*, lead: Lead, user: User) -> FollowupState:
    from django.contrib.contenttypes.models import ContentType

    from approvals.models import ApprovalRequest
    from approvals.selectors import can_decide
    from hitl_crm.ai.models import AiRun
    from leads.followups import SEND_FOLLOWUP, followup_blocker, is_drafting

    ct = ContentType.objects.get_for_model(Lead)
    recent = list(
        ApprovalRequest.objects.filter(action=SEND_FOLLOWUP, content_type=ct, object_id=str(lead.pk))
        .select_related("requested_by")
        .prefetch_related("decisions__reviewer")
        .order_by("-id")[:5]
    )
    open_request = next((r for r in recent if r.status in ApprovalRequest.OPEN_STATUSES), None)
    last_run = (
        AiRun.objects.filter(skill="draft_followup", subject_type=ct, subject_id=str(lead.pk))
        .order_by("-created_at", "-id")
        .first()
    )
    ai_failed = None
    if last_run is not None and not last_run.ok and not any(r.created_at >= last_run.created_at for r in recent):
        ai_failed = last_run
    decide = can_decide(request=open_request, user=user) if open_request and open_request.is_open else None
    return FollowupState(open_request, is_drafting(lead.pk), ai_failed, recent, decide, followup_blocker(lead))


def followup_acceptance(*, days: int = 90) -> dict[str, Any] | None:
    """How reviewers received follow-up drafts: accepted as written, edited, rejected and why."""
    from datetime import timedelta

    from approvals.models import Decision
    from approvals.selectors import approval_stats
    from leads.followups import SEND_FOLLOWUP

    rows = approval_stats(since=timezone.now() - timedelta(days=days), by="action")
    row = next((row for row in rows if row["key"] == SEND_FOLLOWUP), None)
    if row is None:
        return None
    labels = dict(Decision.Reason.choices)
    return {**row, "reasons": {labels.get(k, k): n for k, n in row["reasons"].items()}}


# --- scoring settings ----------------------------------------------------------------------------

BUCKETS = [(lo, lo + 9 if lo < 90 else 100) for lo in range(0, 100, 10)]


def score_distribution(*, days: int | None = None) -> dict[str, list[tuple[str, float | None]]]:
    """Share of won, lost and open leads in each score band (0–9 … 90–100), for ``line_chart``."""
    rows = Lead.objects.filter(score__isnull=False).values("status", "score").annotate(n=Count("id")).order_by()
    groups: dict[str, Counter[int]] = {"Won": Counter(), "Lost": Counter(), "Open": Counter()}
    for row in rows:
        name = "Won" if row["status"] == Lead.Status.WON else "Lost" if row["status"] == Lead.Status.LOST else "Open"
        groups[name][min(row["score"] // 10, 9)] += row["n"]
    out: dict[str, list[tuple[str, float | None]]] = {}
    for name, counts in groups.items():
        total = sum(counts.values())
        if not total:
            continue
        out[f"{name} ({total})"] = [(f"{lo}–{hi}", counts[i] / total) for i, (lo, hi) in enumerate(BUCKETS)]
    return out


def tier_counts() -> list[tuple[str, int]]:
    counts = dict(Lead.objects.filter(status__in=OPEN).values_list("tier").annotate(n=Count("id")).order_by())
    return [(tier, counts.get(tier, 0)) for tier in Lead.Tier.values]


def scoring_overview() -> dict[str, Any]:
    models = list(ScoringModel.objects.select_related("trained_by").order_by("-version")[:10])
    active = next((m for m in models if m.active), None) or ScoringModel.objects.filter(active=True).first()
    return {
        "active": active,
        "models": models,
        "rules": list(ScoringRule.objects.order_by("-active", "-points", "name")),
        "distribution": score_distribution(),
        "tiers": tier_counts(),
        "dirty": Lead.objects.filter(score_dirty_at__isnull=False).count(),
        "closed": Lead.objects.filter(status__in=Lead.CLOSED).count(),
        "overrides": Lead.objects.filter(override_score__isnull=False).count(),
    }


# --- imports -------------------------------------------------------------------------------------


def import_list(*, user: User) -> QuerySet[LeadImport]:
    if not _signed_in(user) or not user.has_perm("leads.view_leadimport"):
        return LeadImport.objects.none()
    return LeadImport.objects.select_related("created_by").defer("content")


def import_get(*, user: User, pk: int) -> LeadImport:
    if not _signed_in(user) or not user.has_perm("leads.view_leadimport"):
        raise LeadImport.DoesNotExist
    return LeadImport.objects.select_related("created_by", "default_owner").get(pk=pk)


def lead_explanation(*, lead: Lead) -> dict[str, Any]:
    """Every factor behind the lead's current score: each model feature's log-odds contribution
    (they add up, with the intercept, to the model's logit) and every matching rule's points."""
    from leads import learning
    from leads.scoring import Scorer

    scorer = Scorer.current()
    batch = scorer.load([lead.pk], now=timezone.now())
    out: dict[str, Any] = {
        "lead": lead.pk,
        "model_version": scorer.model.version if scorer.model else None,
        "model": None,
        "rules": [],
    }
    if scorer.params is not None and len(batch):
        raw_row = [batch.values(f)[0] for f in scorer.features]
        out["model"] = learning.explain(scorer.params, raw_row)
    if scorer.rules and len(batch):
        from leads import rules

        result = rules.evaluate(scorer.rules, batch)
        out["rules"] = [
            {"rule": r.pk, "label": r.name, "points": r.points}
            for j, r in enumerate(scorer.rules)
            if result.matched[0, j]
        ]
        out["rules_points"] = int(result.points[0])
        out["rules_normalised"] = float(result.normalised()[0])
    out["weight"] = scorer.weight
    return out


def lead_search(*, user: User, query: str, limit: int = 8) -> list[Lead]:
    """Leads of any status matching every word of ``query``, hottest first, only if the user may view leads."""
    if not query.strip():
        return []
    return list(lead_list(user=user, status="all", search=query)[:limit])

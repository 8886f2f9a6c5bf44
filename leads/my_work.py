"""The rep's part of "Mine to do today": their hottest leads nobody has contacted yet."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet
from django.urls import NoReverseMatch, reverse

from hitl_crm.hooks import WorkItem, WorkSection
from leads.models import Lead, LeadEvent
from leads.selectors import lead_visible_to

SHOWN = 5  # items listed on the dashboard; the prospects page has the rest
HOT_TIER = Lead.Tier.A


def hot_uncontacted(*, user: Any) -> QuerySet[Lead]:
    """The user's top-tier leads still new, with no email sent to them yet, hottest first."""
    emailed = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEvent.Kind.EMAIL_SENT)
    return (
        lead_visible_to(user=user)
        .filter(owner=user, tier=HOT_TIER, status=Lead.Status.NEW)
        .exclude(Exists(emailed))
        .select_related("account")
    )


def _item(lead: Lead) -> WorkItem:
    parts = [lead.company_name, f"score {lead.score}" if lead.score is not None else "", lead.source]
    return {
        "label": lead.display_name,
        "url": lead.get_absolute_url(),
        "detail": " · ".join(part for part in parts if part) or "not contacted yet",
        "badge": f"Tier {lead.tier}",
        "badge_css": "pill-ok",
    }


def leads_my_work(*, user: Any) -> list[WorkSection]:
    """Hot leads the user owns and has not contacted; only for people who work leads (``leads.change_lead``).

    Two queries however many leads: the first few rows and the count.
    """
    if not user.has_perm("leads.change_lead"):
        return []
    try:
        prospects = reverse("leads:prospects")
    except NoReverseMatch:  # the site does not route to leads
        return []
    leads = hot_uncontacted(user=user)
    rows = list(leads.order_by(F("score").desc(nulls_last=True), "-id")[:SHOWN])
    count = leads.order_by().count() if len(rows) == SHOWN else len(rows)
    return [
        {
            "title": "Your hot leads to contact",
            "items": [_item(lead) for lead in rows],
            "empty": (
                "No tier A lead of yours is waiting for a first contact. Look through the team's tier A prospects."
            ),
            "more_url": f"{prospects}?scope=mine&tier={HOT_TIER}&status=new"
            if rows
            else f"{prospects}?tier={HOT_TIER}",
            "more_label": "Open the prospects",
            "count": count,
        }
    ]

"""The marketer's part of "Mine to do today": their campaigns that wait for something or are running."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, F, IntegerField, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone

from hitl_crm.hooks import WorkItem, WorkSection
from marketing.models import Campaign
from marketing.selectors import campaign_list

SHOWN = 5  # items listed on the dashboard; the campaign list has the rest
Status = Campaign.Status

# What each status asks of the owner, in the order the dashboard lists them: the owner's move first.
NEXT_STEP: dict[str, tuple[str, str]] = {
    Status.TESTING: ("Pick the winner", "pill-high"),
    Status.VARIANTS_APPROVED: ("Submit for approval", "pill-pending"),
    Status.IN_REVIEW: ("Waiting for approval", "pill-pending"),
    Status.SCHEDULED: ("Scheduled", "pill-approved"),
    Status.SENDING: ("Sending", "pill-approved"),
}


def _rank() -> Case:
    return Case(
        *[When(status=status, then=Value(rank)) for rank, status in enumerate(NEXT_STEP)],
        default=Value(len(NEXT_STEP)),
        output_field=IntegerField(),
    )


def _item(campaign: Campaign) -> WorkItem:
    badge, css = NEXT_STEP.get(campaign.status, (campaign.get_status_display(), "pill-muted"))
    parts = [campaign.segment.name if campaign.segment else "no segment yet"]
    if campaign.status == Status.SCHEDULED and campaign.scheduled_at:
        parts.append(f"goes out {formats.date_format(timezone.localtime(campaign.scheduled_at), 'DATETIME_FORMAT')}")
    elif campaign.status == Status.SCHEDULED:
        parts.append("goes out when approved")
    return {
        "label": campaign.name,
        "url": campaign.get_absolute_url(),
        "detail": " · ".join(parts),
        "badge": badge,
        "badge_css": css,
    }


def marketing_my_work(*, user: Any) -> list[WorkSection]:
    """Campaigns the user owns that wait (for them or for approval) or are running, their move first.

    Only for people who run campaigns (``marketing.change_campaign``). Two queries however many
    campaigns: the first few rows and, when there are more, the count.
    """
    if not user.has_perm("marketing.change_campaign"):
        return []
    try:
        campaigns = reverse("marketing:campaigns")
    except NoReverseMatch:  # the site has not mounted marketing's URLs
        return []
    mine = campaign_list(user=user).filter(owner=user, status__in=list(NEXT_STEP))
    rows = list(mine.order_by(_rank(), F("scheduled_at").asc(nulls_last=True), "-id")[:SHOWN])
    count = mine.order_by().count() if len(rows) == SHOWN else len(rows)
    return [
        {
            "title": "Your campaigns",
            "items": [_item(campaign) for campaign in rows],
            "empty": "None of your campaigns is waiting or running. Start one from a brief and shortlist its variants.",
            "more_url": campaigns,
            "more_label": "Open the campaigns",
            "count": count,
        }
    ]

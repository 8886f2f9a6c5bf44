"""The agent's part of "Mine to do today": the open cases they own, overdue first (the inbox's order)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from hitl_crm.counters import cached_count
from hitl_crm.hooks import WorkItem, WorkSection
from service.models import Case
from service.selectors import MY_CASE_COUNTS, case_inbox_order, case_list

SHOWN = 5  # items listed on the dashboard; the inbox has the rest


def _item(case: Case, now: datetime, overdue_before: datetime) -> WorkItem:
    waited = case.waiting_since
    overdue = waited is not None and waited <= overdue_before
    if overdue:
        badge, css = "Overdue", "pill-critical"
    elif case.risk in (Case.Risk.HIGH, Case.Risk.CRITICAL):
        badge, css = f"{case.get_risk_display()} risk", f"pill-{case.risk}"
    elif case.needs_human:
        badge, css = "Needs a person", "pill-high"
    else:
        badge, css = "", ""
    when = f"waiting {timesince(waited, now, depth=1)}" if waited else case.get_status_display().lower()
    return {
        "label": case.subject or f"Case #{case.pk}",
        "url": case.get_absolute_url(),
        "detail": f"{case.contact} · {when}",
        "badge": badge,
        "badge_css": css,
    }


def service_my_work(*, user: Any) -> list[WorkSection]:
    """Open cases the user owns, overdue first; only for people who work cases (``service.change_case``).

    One query while all of them fit on the dashboard (the figures are counted from the rows shown, so
    they are exact and live); beyond that, the count and the overdue count are one aggregate kept as a
    per-person kernel counter (``hitl_crm.counters``; ``case_update`` forgets it when the person's own
    cases change, so taking or closing a case shows at once).
    """
    from service.conf import app_settings

    if not user.has_perm("service.change_case"):
        return []
    try:
        inbox = reverse("service:inbox")
    except NoReverseMatch:  # the site does not route to the service desk
        return []
    now = timezone.now()
    overdue_before = now - timedelta(hours=app_settings.SLA_HOURS)
    mine = case_list(user=user).filter(owner=user, status__in=Case.OPEN_STATUSES)
    rows = list(mine.order_by(*case_inbox_order(now=now))[:SHOWN])
    open_count = len(rows)
    overdue = sum(1 for case in rows if case.waiting_since is not None and case.waiting_since <= overdue_before)
    if open_count == SHOWN:  # there may be more than are shown: count them all (a kernel counter)

        def compute() -> dict[str, int]:
            return mine.order_by().aggregate(
                open=Count("pk"), overdue=Count("pk", filter=Q(waiting_since__lte=overdue_before))
            )

        counts = cached_count(MY_CASE_COUNTS, compute, user_id=user.pk)
        # a figure counted a few seconds ago is never shown below what the rows themselves show
        open_count, overdue = max(counts["open"], open_count), max(counts["overdue"], overdue)
    return [
        {
            "title": "Your open cases",
            "items": [_item(case, now, overdue_before) for case in rows],
            "empty": "No open case is assigned to you. Take the next one from the inbox, oldest wait first.",
            # With nothing assigned, the link leads to the whole inbox to pick the next case from.
            "more_url": f"{inbox}?status=active&owner=mine" if open_count else f"{inbox}?status=active",
            "more_label": "Open the inbox",
            "count": open_count,
            "note": f"{overdue} overdue" if overdue else "",
        }
    ]

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from hitl_crm.contacts.models import Activity
from hitl_crm.contacts.selectors import activity_per_day, contact_list, contact_stats
from hitl_crm.web.models import WorkerHeartbeat

QUEUES = ("ai", "default", "dispatch")
STALE_AFTER = timedelta(minutes=3)


def worker_status() -> dict:
    """What the dashboard says about background work."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager", "queues": []}
    beats = {b.queue: b for b in WorkerHeartbeat.objects.filter(queue__in=QUEUES)}
    now = timezone.now()
    queues = [
        {
            "name": q,
            "seen_at": beats[q].seen_at if q in beats else None,
            "ok": q in beats and now - beats[q].seen_at < STALE_AFTER,
        }
        for q in QUEUES
    ]
    return {"mode": "broker", "queues": queues}


def dashboard_customer_panels(*, user: User) -> dict[str, Any]:
    """The dashboard's customer figures, chart and feed, each only if the user may view what it shows.

    A figure, the chart or the feed the user may not see is ``None`` (the template leaves it out):
    contact counts need ``contacts.view_contact``, account counts ``contacts.view_account``, and the
    activity chart and feed (which name contacts) ``contacts.view_activity`` and ``contacts.view_contact``.
    """
    can_contacts = user.has_perm("contacts.view_contact")
    can_accounts = user.has_perm("contacts.view_account")
    can_activity = can_contacts and user.has_perm("contacts.view_activity")
    stats = contact_stats() if can_contacts or can_accounts or can_activity else {}
    visible = {
        "contacts": can_contacts,
        "consented": can_contacts,
        "accounts": can_accounts,
        "vip_accounts": can_accounts,
        "activities_30d": can_activity,
    }
    return {
        "stats": {key: stats[key] if allowed else None for key, allowed in visible.items()},
        "activity_series": activity_per_day(days=30) if can_activity else None,
        "recent": (
            Activity.objects.filter(contact__in=contact_list(user=user))
            .select_related("contact", "actor")
            .order_by("-occurred_at", "-id")[:8]
            if can_activity
            else None
        ),
    }

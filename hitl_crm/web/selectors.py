from __future__ import annotations

from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from hitl_crm.contacts.models import Activity
from hitl_crm.contacts.selectors import activity_per_day, contact_list, contact_stats
from hitl_crm.counters import cached_count
from hitl_crm.delivery.models import Delivery
from hitl_crm.hooks import WorkSection, app_hooks
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


def sees_background_work(user: Any) -> bool:
    """Whether the dashboard tells this user how background work runs (the broker and its workers).

    It is the site's plumbing: only staff admins (superusers, or staff holding the Admin role's
    permission on worker heartbeats) can act on it, so nobody else is shown the warning.
    """
    return bool(user.is_staff and (user.is_superuser or user.has_perm("web.view_workerheartbeat")))


def dashboard_my_work(*, user: Any) -> list[WorkSection]:
    """The dashboard's "mine to do today": every app's ``my_work(user)`` sections, those with items first.

    Apps keep their own order (``INSTALLED_APPS``) within each group, so a manager with approvals
    waiting sees them before an empty "your cases", and an agent with cases sees those first.
    """
    sections = [section for hook in app_hooks("my_work") for section in hook.value(user)]
    return sorted(sections, key=lambda section: not section.get("items"))


ACTIVITY_CHART_COUNTER = "web:activity_per_day:30"


def _activity_30d() -> list[tuple[str, int]]:
    return activity_per_day(days=30)


def dashboard_customer_panels(*, user: User) -> dict[str, Any]:
    """The dashboard's customer figures, chart and feed, each only if the user may view what it shows.

    A figure, the chart or the feed the user may not see is ``None`` (the template leaves it out):
    contact counts need ``contacts.view_contact``, account counts ``contacts.view_account``, and the
    activity chart and feed (which name contacts) ``contacts.view_activity`` and ``contacts.view_contact``.

    The figures (``contact_stats``) and the chart count whole tables, so they are kernel counters
    (``hitl_crm.counters``): the same for everyone, counted at most once per ``HITL_CRM_COUNTER_SECONDS``.
    The feed is live.
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
        "activity_series": cached_count(ACTIVITY_CHART_COUNTER, _activity_30d) if can_activity else None,
        "recent": (
            Activity.objects.filter(contact__in=contact_list(user=user))
            .select_related("contact", "actor")
            .order_by("-occurred_at", "-id")[:8]
            if can_activity
            else None
        ),
    }


# The kinds of mail the Outbox can be filtered by (refunds are not mail).
OUTBOX_KINDS: dict[str, str] = {value: label for value, label in Delivery.Kind.choices if value != Delivery.Kind.REFUND}
# Headers the feature apps put on their mail, telling its kind without a database lookup.
_KIND_HEADERS = {"X-HITL-Campaign": Delivery.Kind.CAMPAIGN, "X-HITL-Case": Delivery.Kind.REPLY}


def _delivery_key(message_id: str) -> str:
    """The delivery kernel's key of a message: the local part of its Message-ID (``<key@domain>``)."""
    return message_id.strip().strip("<>").rpartition("@")[0]


def outbox_files(*, mail_dir: Path, kind: str = "", sent_by: Any = None) -> list[Path]:
    """The ``.eml`` files of the file mail backend, newest first; with ``kind``, only mail of that kind;
    with ``sent_by`` (a user), only mail that went out on their word (``Delivery.sent_by``).

    A message's kind comes from the header its app sets (campaigns, case replies) or from the delivery
    kernel's record of it (``Delivery.kind``): by key (the Message-ID's local part) or, for mail that
    keeps the backend's own Message-ID (reviewer notifications), by recipient and subject. Who sent it
    comes only from the kernel's record, by key: everything sent on a person's word is an approved
    action, whose Message-ID is its execution key. One query.
    """
    files = sorted(mail_dir.glob("*.eml"), reverse=True) if mail_dir.exists() else []
    if not kind and sent_by is None:
        return files
    rows = Delivery.objects.filter(channel=Delivery.Channel.EMAIL)
    if kind:
        rows = rows.filter(kind=kind)
    if sent_by is not None:
        rows = rows.filter(sent_by=sent_by)
    keys: set[str] = set()
    sent_to: set[tuple[str, str]] = set()
    for key, recipient, summary in rows.values_list("key", "recipient", "summary"):
        keys.add(key)
        sent_to.add((recipient, summary))
    parser = BytesParser(policy=policy.default)
    matching = []
    for path in files:
        with path.open("rb") as fp:
            headers = parser.parse(fp, headersonly=True)
        recorded = _delivery_key(str(headers.get("Message-ID", ""))) in keys
        if sent_by is not None:
            if recorded:
                matching.append(path)
            continue
        tagged = [value for name, value in _KIND_HEADERS.items() if headers.get(name) is not None]
        if tagged:
            if tagged[0] == kind:
                matching.append(path)
            continue
        if recorded or (str(headers.get("To", "")), str(headers.get("Subject", ""))) in sent_to:
            matching.append(path)
    return matching


def outbox_message_sent_by(*, path: Path, user: Any) -> bool:
    """Whether the message in ``path`` went out on ``user``'s word (one query)."""
    with path.open("rb") as fp:
        headers = BytesParser(policy=policy.default).parse(fp, headersonly=True)
    key = _delivery_key(str(headers.get("Message-ID", "")))
    return bool(key) and Delivery.objects.filter(channel=Delivery.Channel.EMAIL, key=key, sent_by=user).exists()

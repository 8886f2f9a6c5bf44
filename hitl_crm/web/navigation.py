"""The navigation bar, assembled from what each installed app declares.

An AppConfig lists its entries in a ``nav`` attribute (see ``hitl_crm.hooks.NavEntry``)::

    nav = [{"label": "Cases", "url_name": "service:inbox", "order": 40,
            "permission": "service.view_case", "badge_url_name": None}]

An entry whose page is not installed yet is shown greyed out, so the shape of the
product is visible from day one without links that lead nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from hitl_crm.hooks import app_hooks

# The sections every install shows, in order, until the app that owns each arrives.
SECTIONS = [
    ("Dashboard", 10),
    ("Review queue", 20),
    ("Leads", 30),
    ("Cases", 40),
    ("Campaigns", 50),
    ("Contacts", 60),
]


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str | None
    order: int
    badge_url: str | None = None


def nav_items(user) -> list[NavItem]:
    declared: dict[str, NavItem | None] = {}
    for hook in app_hooks("nav"):
        for entry in hook.value:
            permission = entry.get("permission")
            if permission and not user.has_perm(permission):
                declared[entry["label"]] = None  # hidden for this user
                continue
            try:
                url = reverse(entry["url_name"])
            except NoReverseMatch:
                url = None
            badge = entry.get("badge_url_name")
            declared[entry["label"]] = NavItem(
                entry["label"], url, entry.get("order", 100), reverse(badge) if badge and url else None
            )
    items = [item for item in declared.values() if item is not None]
    for label, order in SECTIONS:
        if label not in declared:
            items.append(NavItem(label, None, order))
    return sorted(items, key=lambda item: (item.order, item.label))

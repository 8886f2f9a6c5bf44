"""What an app may declare on its AppConfig for the site to pick up, and the one loader that reads it.

A feature app never edits the site: it adds to the navigation bar, the dashboard (its figures and
the user's "mine to do today"), the contact page, the roles and the demo data by declaring hooks on
its ``AppConfig``. Each hook is optional; an app that does not declare one is skipped.
:class:`CrmAppConfig` documents every hook; read them only through :func:`app_hooks`::

    for hook in app_hooks("dashboard_stats"):
        stats.extend(hook.value(request.user))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, TextIO, TypedDict

from django.apps import AppConfig, apps


class NavEntry(TypedDict, total=False):
    """One entry of the navigation bar."""

    label: str  # also the key: a later app with the same label replaces the entry
    url_name: str  # reversed; an entry whose URL is not installed is shown greyed out
    order: int  # position, lowest first (the sections in ``hitl_crm.web.navigation.SECTIONS``)
    permission: str  # "app_label.codename"; users without it do not see the entry
    badge_url_name: str | None  # an HTMX endpoint rendering the live count shown next to it


class WorkItem(TypedDict, total=False):
    """One thing a person should do today, in a :class:`WorkSection` of the dashboard."""

    label: str  # what it is about, e.g. the case subject or the lead's name
    url: str  # where the work is done
    detail: str  # one line of context: who, how long it has waited, when it is due
    badge: str  # a short marker, e.g. "Overdue", "Tier A" ("" for none)
    badge_css: str  # the pill's class for the badge, e.g. "pill-high" (optional)


class WorkSection(TypedDict, total=False):
    """One app's part of "Mine to do today" on the dashboard."""

    title: str  # e.g. "Waiting for your decision"
    items: list[WorkItem]  # the most pressing first, a handful at most
    empty: str  # shown when ``items`` is empty: what to do next
    more_url: str  # the page listing all of them, or where to find more work when there is none ("" for none)
    more_label: str  # the link's words, e.g. "Open the inbox" (optional)
    count: int  # how many there are in all (may exceed ``len(items)``)
    capped: bool  # ``count`` stopped at a cap: show it as "100+" (optional)
    note: str  # a short addition to the title, e.g. "3 overdue" (optional)


class CrmAppConfig(Protocol):
    """The hooks an installed app's ``AppConfig`` may declare (each one optional).

    ``nav``
        Class attribute, a list of :class:`NavEntry`: the app's entries in the navigation bar.
    ``role_permissions``
        Class attribute, ``{role name: ["app_label.codename", ...]}``: the model permissions each
        role (``hitl_crm.accounts.roles.ROLES``) needs for the app. Applied by ``roles_ensure()``
        after every ``migrate``; naming a role that does not exist is an error.
    ``dashboard_stats(user)``
        The app's figures on the dashboard, ``[{"label", "value", "url"}]``, only those the user
        may see (``[]`` for none).
    ``contact_badges(contact, user)``
        Badges on a contact's page, ``[{"label", "value", "css", "title"}]``, only those the user
        may see.
    ``my_work(user)``
        The user's own work for today on the dashboard: a list of :class:`WorkSection`
        (``{"title", "items": [{"label", "url", "detail", "badge"}], "empty", "more_url", "count"}``),
        only the sections the user may see (``[]`` for none; a section with no items still says what to
        do next in ``empty``), in a constant number of queries however many items there are.
    ``search(user, query, limit)``
        The app's matches for the global search box, at most ``limit`` of them, each
        ``{"label", "url", "kind", "detail"}`` (``kind`` names the group, e.g. "Leads"); only what the
        user may see (``[]`` for none), in a constant number of queries.
    ``seed_demo(*, stdout)``
        Load the app's demo data (``manage.py seed_demo``), after the demo users and roles exist;
        idempotent, and it writes what it did to ``stdout``.
    """

    label: str
    nav: Sequence[NavEntry]
    role_permissions: Mapping[str, Sequence[str]]

    def dashboard_stats(self, user: Any) -> list[dict[str, Any]]: ...

    def contact_badges(self, contact: Any, user: Any) -> list[dict[str, Any]]: ...

    def my_work(self, user: Any) -> list[WorkSection]: ...

    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]: ...

    def seed_demo(self, *, stdout: TextIO) -> None: ...


HOOKS = ("nav", "role_permissions", "dashboard_stats", "contact_badges", "my_work", "search", "seed_demo")


class Hook(NamedTuple):
    """One app's declaration of one hook: its config and the attribute (data or bound method)."""

    app: AppConfig
    value: Any


@lru_cache(maxsize=64)
def _declaring(name: str, configs: tuple[AppConfig, ...]) -> tuple[AppConfig, ...]:
    return tuple(config for config in configs if getattr(config, name, None) is not None)


def app_hooks(name: str) -> list[Hook]:
    """Every installed app's ``name`` hook, in ``INSTALLED_APPS`` order; apps without it are skipped.

    Which apps declare a hook is worked out once per process for a set of installed apps; a
    different set (``override_settings(INSTALLED_APPS=...)`` in a test) is a different entry, so
    the answer always matches the apps installed now.
    """
    if name not in HOOKS:
        raise ValueError(f"Unknown app hook {name!r}; the hooks are: {', '.join(HOOKS)}.")
    return [Hook(config, getattr(config, name)) for config in _declaring(name, tuple(apps.get_app_configs()))]

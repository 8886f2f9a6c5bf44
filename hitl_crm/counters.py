"""Dashboard and badge counters cached briefly, so a page never counts a whole table per request.

A counter is a function of the database that people read at a glance ("12 open cases", "3 waiting
for you"). :func:`cached_count` keeps its value in the cache for ``HITL_CRM_COUNTER_SECONDS``
(30 s by default; 0 turns caching off): a counter may be that many seconds stale, never more. A
counter that depends on who is looking carries the user's id in its key, so one person's count is
never shown to another. Writes that people expect to see at once (their own decision taking an item
out of their queue) call :func:`forget` for the counters they change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")
PREFIX = "hitl_crm:counter:"


def _key(name: str, user_id: int | None) -> str:
    return f"{PREFIX}{name}:{'' if user_id is None else user_id}"


def staleness() -> int:
    """How many seconds a counter may be stale (``HITL_CRM_COUNTER_SECONDS``)."""
    return max(0, int(getattr(settings, "HITL_CRM_COUNTER_SECONDS", 30)))


def cached_count(name: str, compute: Callable[[], T], *, user_id: int | None = None) -> T:
    """``compute()``, or its value from the last ``staleness()`` seconds for the same name and user."""
    seconds = staleness()
    if not seconds:
        return compute()
    key = _key(name, user_id)
    found = cache.get(key, default=_MISSING)
    if found is not _MISSING:
        return found
    value = compute()
    cache.set(key, value, timeout=seconds)
    return value


def forget(name: str, *, user_id: int | None = None) -> None:
    """Drop a cached counter, so the next read counts again."""
    cache.delete(_key(name, user_id))


_MISSING = object()

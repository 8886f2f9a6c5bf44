"""One way to refuse: every write service checks its actor through :func:`require_permission`.

A refusal is Django's ``PermissionDenied``, so the API answers 403 and the web CRM shows the
friendly 403 page wherever it escapes. A missing actor is refused too: system callers (tasks,
commands) pass the user they act for, or call the service's documented system entry point.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


def has_permission(actor: Any, permission: str, obj: Any = None) -> bool:
    """True when ``actor`` is an active user holding ``permission`` (globally or on ``obj``)."""
    if actor is None or not getattr(actor, "is_active", False):
        return False
    return bool(actor.has_perm(permission) or (obj is not None and actor.has_perm(permission, obj)))


def require_permission(actor: Any, permission: str, obj: Any = None, *, message: str = "") -> None:
    """Raise ``PermissionDenied`` unless ``actor`` holds ``permission`` (globally or on ``obj``)."""
    if not has_permission(actor, permission, obj):
        raise PermissionDenied(message or f"You need the “{permission}” permission for this.")

"""Roles are Django groups with model permissions.

Each app contributes the permissions its roles need through a ``role_permissions``
attribute on its AppConfig (``{"Support agent": ["service.view_case", ...]}``), so a
feature app never edits this file. ``roles_ensure()`` is idempotent and runs after
every ``migrate``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from hitl_crm.hooks import app_hooks

logger = logging.getLogger(__name__)

SALES_REP = "Sales rep"
SUPPORT_AGENT = "Support agent"
MARKETER = "Marketer"
MANAGER = "Manager"
ADMIN = "Admin"
ROLES = (SALES_REP, SUPPORT_AGENT, MARKETER, MANAGER, ADMIN)
# Roles whose members may use Django admin.
STAFF_ROLES = frozenset({MANAGER, ADMIN})


def role_permission_codes() -> dict[str, set[str]]:
    """Collect ``app_label.codename`` strings per role from every installed app."""
    wanted: dict[str, set[str]] = {role: set() for role in ROLES}
    for hook in app_hooks("role_permissions"):
        for role, codes in hook.value.items():
            if role not in wanted:
                raise ValueError(f"{hook.app.label}.role_permissions names unknown role {role!r}")
            wanted[role].update(codes)
    return wanted


@transaction.atomic
def roles_ensure() -> dict[str, int]:
    """Create the role groups and set their permissions; return permission counts per role.

    The Admin role gets every permission of every installed app. Running it twice
    changes nothing.
    """
    wanted = role_permission_codes()
    all_permissions = {
        f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")
    }
    counts: dict[str, int] = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            permissions = list(all_permissions.values())
        else:
            missing = sorted(code for code in wanted[role] if code not in all_permissions)
            if missing:
                logger.warning("Role %s: permissions not (yet) defined: %s", role, ", ".join(missing))
            permissions = [all_permissions[c] for c in wanted[role] if c in all_permissions]
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def ensure_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app, in INSTALLED_APPS order, and each app's permissions
    # are created in its own round: act once, after the last app, when all exist.
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    roles_ensure()

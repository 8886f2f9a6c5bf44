"""The person a leads command acts for: imports are made in someone's name, with their permissions."""

from __future__ import annotations

from argparse import ArgumentParser

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import CommandError

from hitl_crm.permissions import has_permission


def add_user_argument(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        required=True,
        metavar="USERNAME",
        help="The active user the import is made for; they need the leads.add_leadimport permission.",
    )


def command_actor(username: str, permission: str) -> User:
    """The active user called ``username`` holding ``permission``, else a CommandError saying which."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user {username!r}.")
    if not has_permission(user, permission):
        raise CommandError(f"{username} may not do this: it needs the {permission} permission.")
    return user

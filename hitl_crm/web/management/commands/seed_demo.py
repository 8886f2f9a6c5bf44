from argparse import ArgumentParser

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from hitl_crm.accounts.roles import ADMIN, MANAGER, MARKETER, SALES_REP, SUPPORT_AGENT, roles_ensure
from hitl_crm.hooks import app_hooks

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    # username, first, last, role
    ("sam", "Sam", "Reyes", SALES_REP),
    ("sue", "Sue", "Okafor", SUPPORT_AGENT),
    ("mia", "Mia", "Lindqvist", MARKETER),
    ("max", "Max", "Brandt", MANAGER),
    ("ada", "Ada", "Nakamura", ADMIN),
]


class Command(BaseCommand):
    help = (
        "Build a believable small business (accounts, contacts, history and one user per role). "
        "Running it again changes nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load the demo even with DEBUG off (it creates a superuser with a published password).",
        )

    def handle(self, *args, **options) -> None:
        if not (settings.DEBUG or options["force"]):
            raise CommandError(
                "seed_demo creates logins with a published password, including a superuser, "
                "so it only runs with DEBUG=true. "
                "On a throw-away installation with DEBUG off, pass --force."
            )
        roles_ensure()
        with transaction.atomic():
            self._users()
        # Each app that has demo data declares seed_demo(stdout=…) on its AppConfig. The demo's
        # history is decided at once: no undo window (its timers would outlive this command).
        with override_settings(HITL_CRM_APPROVALS_UNDO_SECONDS=0):
            for hook in app_hooks("seed_demo"):
                hook.value(stdout=self.stdout)
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for username, first, last, role in DEMO_USERS:
            self.stdout.write(f"  {username:5} {first} {last:10} {role}")

    def _users(self) -> None:
        User = get_user_model()
        for username, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@northwind.example",
                    "is_staff": role in {MANAGER, ADMIN},
                    "is_superuser": role == ADMIN,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))

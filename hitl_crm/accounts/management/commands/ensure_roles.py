from django.core.management.base import BaseCommand

from hitl_crm.accounts.roles import roles_ensure


class Command(BaseCommand):
    help = "Create the role groups (Sales rep, Support agent, Marketer, Manager, Admin) and their permissions."

    def handle(self, *args, **options) -> None:
        for role, count in roles_ensure().items():
            self.stdout.write(f"{role:15} {count} permissions")

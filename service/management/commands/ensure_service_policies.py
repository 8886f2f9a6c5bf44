"""``manage.py ensure_service_policies``: create the service desk's default routing (idempotent)."""

from django.core.management.base import BaseCommand

from service.routing import service_policies_ensure


class Command(BaseCommand):
    help = (
        "Create the default approval policies for service replies and refunds (routine → support agents, "
        "upset / VIP / legal → managers, refunds by amount). Existing policies are left as admins edited them."
    )

    def handle(self, *args, **options) -> None:
        created = service_policies_ensure()
        self.stdout.write(f"{created} service desk polic{'y' if created == 1 else 'ies'} created.")

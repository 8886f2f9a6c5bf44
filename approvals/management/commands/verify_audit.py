from django.core.management.base import BaseCommand, CommandError

from approvals.audit import audit_verify


class Command(BaseCommand):
    help = "Check the approvals audit trail's hash chain; report the first broken link."

    def handle(self, *args, **options) -> None:
        checked, broken = audit_verify()
        if broken is not None:
            raise CommandError(
                f"Audit chain broken at event {broken.event_id}: {broken.problem}. "
                f"{checked} event(s) before it verified."
            )
        self.stdout.write(f"OK: {checked} audit event(s), hash chain intact.")

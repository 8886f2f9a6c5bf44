from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hitl_crm.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Issue an API token for a user and print the key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="CLI token", help="Which system will use the token.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        token, raw = api_token_create(user=user, name=name)
        self.stdout.write(f"Token {token.prefix}… for {username} ({name}). Key, shown once:\n{raw}")

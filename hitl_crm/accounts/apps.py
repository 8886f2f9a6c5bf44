from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "hitl_crm.accounts"
    label = "accounts"
    verbose_name = "Users, roles and API tokens"

    def ready(self) -> None:
        from hitl_crm.accounts import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from hitl_crm.accounts.roles import ensure_roles_after_migrate

        post_migrate.connect(ensure_roles_after_migrate, dispatch_uid="hitl_crm.accounts.roles")

from __future__ import annotations

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "hitl_crm.delivery"
    label = "delivery"
    verbose_name = "Outbound delivery"
    default_auto_field = "django.db.models.BigAutoField"
    nav = [
        {
            "label": "Possibly sent",
            "url_name": "delivery:list",
            "order": 85,
            "permission": "delivery.resolve_delivery",
        }
    ]
    role_permissions = {"Manager": ["delivery.view_delivery", "delivery.resolve_delivery"]}

    def ready(self) -> None:
        from django.core import checks

        from hitl_crm.delivery import checks as delivery_checks

        checks.register(delivery_checks.check_settings)

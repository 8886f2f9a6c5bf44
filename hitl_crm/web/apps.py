import logging

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

logger = logging.getLogger("hitl_crm")
_announced = False


class WebConfig(AppConfig):
    name = "hitl_crm.web"
    label = "web"
    verbose_name = "Web CRM"
    nav = [{"label": "Dashboard", "url_name": "web:dashboard", "order": 10, "permission": None}]

    def ready(self) -> None:
        from hitl_crm.web import checks as web_checks

        checks.register(web_checks.check_celery_mode, deploy=True)
        global _announced
        if not _announced:
            _announced = True
            if settings.CELERY_TASK_ALWAYS_EAGER:
                logger.info("CELERY_BROKER_URL is not set: background tasks run eagerly in this process.")

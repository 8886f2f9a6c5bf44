from django.conf import settings
from django.core.checks import Warning


def check_celery_mode(app_configs, **kwargs):
    errors = []
    if (
        not settings.DEBUG
        and settings.CELERY_TASK_ALWAYS_EAGER
        and not getattr(settings, "HITL_CRM_ALLOW_EAGER", False)
    ):
        errors.append(
            Warning(
                "Celery runs tasks eagerly (CELERY_BROKER_URL is unset) with DEBUG off.",
                hint="Set CELERY_BROKER_URL to a Redis or RabbitMQ URL and run workers, "
                "or set HITL_CRM_ALLOW_EAGER=True for a single-process install.",
                id="web.W001",
            )
        )
    return errors

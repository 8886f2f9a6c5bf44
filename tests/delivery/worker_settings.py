"""Settings for the Celery worker of the kill tests (its own process): the production settings,
mail over SMTP to the test's server (EMAIL_HOST/EMAIL_PORT/EMAIL_TIMEOUT from the environment),
a short visibility timeout and a prompt restore of unacknowledged messages, so that a task of a
killed worker is redelivered within seconds."""

from hitl_crm.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

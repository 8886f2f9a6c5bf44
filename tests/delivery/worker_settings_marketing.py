"""Settings for the worker of the campaign kill test: marketing's worker settings (small batches,
10 messages/s), mail over SMTP to the test's server, prompt redelivery of unacknowledged tasks."""

from tests.delivery.worker_settings import CELERY_BROKER_TRANSPORT_OPTIONS, EMAIL_BACKEND  # noqa: F401
from tests.marketing.worker_settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # noqa: F811 (the SMTP server, not files)

"""The Celery application. Configuration lives in settings under the ``CELERY_`` namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")

app = Celery("hitl_crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

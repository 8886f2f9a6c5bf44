"""Test settings: the production module, with test-only keys and an in-process task runner.

DATABASE_URL still decides the database, so the same suite runs on SQLite (default)
and on PostgreSQL (CI). Integration tests switch Celery to the real broker themselves.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0b7d2f9c4e1a8b6d3f5c7e9a1b3d5f7c9e")
os.environ.setdefault("HTTPS", "false")

from hitl_crm.settings import *  # noqa: E402,F403
from hitl_crm.settings import LOGGING, STORAGES  # noqa: E402

CELERY_TASK_ALWAYS_EAGER = True
HITL_CRM_ALLOW_EAGER = True
HITL_CRM_APPROVALS_UNDO_SECONDS = 0  # eager tasks cannot wait: tests/approvals/test_undo.py sets the window
HITL_CRM_APPROVALS_DIGEST_MINUTES = 0  # one email per item; tests/approvals/test_digest.py sets an interval
HITL_CRM_COUNTER_SECONDS = 0  # counted per request; tests/kernel/test_counters.py sets a window
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
LOGGING = {
    **LOGGING,
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"hitl_crm": {"level": "WARNING"}},
}

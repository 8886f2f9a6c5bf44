"""Settings for the marketing benchmarks (the bench process and its Celery workers)."""

from hitl_crm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.marketing_urls"
HITL_CRM_SITE_URL = "https://crm.example.com"
HITL_CRM_APPROVALS_NOTIFY_REVIEWERS = False
EMAIL_BACKEND = "hitl_crm.delivery.EmlFileBackend"  # EMAIL_FILE_PATH comes from the environment

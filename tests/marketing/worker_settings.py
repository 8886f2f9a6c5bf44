"""Settings for the Celery worker of the marketing integration test (its own process).

The production settings, plus marketing's URLs (the site mounts them once the lead includes
them), small batches and a send rate of 10 messages/s per worker, so that the test can stop a
worker in the middle of a batch.
"""

from hitl_crm.settings import *  # noqa: F403

ROOT_URLCONF = "tests.marketing.urls"
HITL_CRM_SITE_URL = "https://crm.example.com"
HITL_CRM_MARKETING_BATCH_SIZE = 10
HITL_CRM_MARKETING_SEND_RATE = 10
EMAIL_BACKEND = "hitl_crm.delivery.EmlFileBackend"  # EMAIL_FILE_PATH comes from the environment

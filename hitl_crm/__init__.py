"""hitl-crm: an AI-assisted CRM in which a human signs off before anything AI-made reaches a customer."""

from hitl_crm.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"

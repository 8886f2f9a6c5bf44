"""WSGI entry point (gunicorn hitl_crm.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl_crm.settings")
application = get_wsgi_application()

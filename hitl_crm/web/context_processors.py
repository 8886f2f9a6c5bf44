from django.conf import settings
from django.http import HttpRequest

from hitl_crm.counters import staleness
from hitl_crm.web.navigation import nav_items


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {
        "nav_items": nav_items(user) if user is not None and user.is_authenticated else [],
        "company_name": getattr(settings, "HITL_CRM_COMPANY_NAME", "hitl-crm"),
        # How stale a dashboard or badge figure may be (``hitl_crm.counters``), for pages that say so.
        "counter_seconds": staleness(),
    }

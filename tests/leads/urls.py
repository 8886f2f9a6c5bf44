"""The site's URLconf plus the leads pages and API, routed the way the lead will include them
(``path("leads/", include("leads.urls"))`` and ``leads.api.urls`` under /api/v1/)."""

from django.urls import include, path

from hitl_crm import urls as site_urls
from hitl_crm.api import urls as api_urls

api_patterns = list(api_urls.urlpatterns)
if not any(getattr(p, "urlconf_name", None) == "leads.api.urls" for p in api_patterns):
    api_patterns.append(path("v1/", include("leads.api.urls")))

urlpatterns = [
    path("leads/", include("leads.urls")),
    path("api/", include((api_patterns, "api"), namespace="api")),
    *[
        p
        for p in site_urls.urlpatterns
        if getattr(p, "pattern", None) is None or str(p.pattern) not in {"api/", "leads/"}
    ],
]
handler404 = site_urls.handler404

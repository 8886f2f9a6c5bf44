"""The site's URLconf plus marketing's pages and API, for tests that run before the lead mounts them."""

from django.urls import include, path

from hitl_crm import urls as site
from hitl_crm.api import urls as api

api_patterns = [
    *[p for p in api.urlpatterns if str(p.pattern) != "v1/" or "marketing" not in str(getattr(p, "urlconf_name", ""))],
    path("v1/", include("marketing.api.urls")),
]
urlpatterns = [
    path("marketing/", include("marketing.urls")),
    path("api/", include((api_patterns, "api"), namespace="api")),
    *[p for p in site.urlpatterns if str(p.pattern) not in {"api/", "marketing/"}],
]
handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500

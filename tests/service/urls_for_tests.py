"""The site's URLconf plus the service desk's routes, for as long as hitl_crm/urls.py does not
include them yet (once it does, nothing is added twice)."""

from django.urls import include, path

from hitl_crm.api.urls import urlpatterns as api_patterns
from hitl_crm.urls import urlpatterns as site_patterns


def _includes(patterns, module: str) -> bool:
    return any(getattr(p, "urlconf_name", None) == module for p in patterns)


api = list(api_patterns)
if not _includes(api, "service.api.urls"):
    api.append(path("v1/", include("service.api.urls")))

urlpatterns = [path("api/", include((api, "api"), namespace="api"))]
if not _includes(site_patterns, "service.urls"):
    urlpatterns.append(path("service/", include("service.urls")))
urlpatterns += [p for p in site_patterns if getattr(p, "namespace", None) != "api"]

handler400 = "hitl_crm.web.views.error_400"
handler403 = "hitl_crm.web.views.error_403"
handler404 = "hitl_crm.web.views.error_404"
handler500 = "hitl_crm.web.views.error_500"

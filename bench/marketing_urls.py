"""The site's URLs plus marketing's (tracking links in the benchmark's emails are reversed from these)."""

from django.urls import include, path

from hitl_crm import urls as site

urlpatterns = [
    path("marketing/", include("marketing.urls")),
    *[p for p in site.urlpatterns if str(p.pattern) != "marketing/"],
]

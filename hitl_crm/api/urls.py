"""The API root: each app contributes its routes under /api/v1/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("v1/", include("hitl_crm.contacts.api.urls")),
    path("v1/", include("approvals.api.urls")),
    path("v1/", include("leads.api.urls")),
    path("v1/", include("service.api.urls")),
    path("v1/", include("marketing.api.urls")),
]

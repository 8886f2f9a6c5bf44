"""A tiny URLconf for approvals tests: the routes notifications link to, the API and admin.

Keeps these tests independent of the web UI, which is built separately.
"""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def _placeholder(request: HttpRequest, **kwargs) -> HttpResponse:
    return HttpResponse("placeholder")


approvals_patterns = (
    [
        path("", _placeholder, name="queue"),
        path("badge/", _placeholder, name="badge"),
        path("r/<str:token>/", _placeholder, name="from_link"),
        path("<int:pk>/", _placeholder, name="detail"),
    ],
    "approvals",
)

urlpatterns = [
    path("approvals/", include(approvals_patterns)),
    path("api/v1/", include("approvals.api.urls")),
    path("admin/", admin.site.urls),
]

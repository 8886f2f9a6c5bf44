"""The API root: each app contributes its routes under /api/v1/."""

from __future__ import annotations

from typing import NoReturn

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from hitl_crm.api.permissions import ApiDocsAccess


class _SignInPage(APIView):
    """The documentation pages send a browser that is not signed in to the sign-in page."""

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        if not request.user.is_authenticated:
            raise _RedirectToLogin(request.get_full_path())
        super().permission_denied(request, message=message, code=code)

    # DRF finalizes any HttpResponse handle_exception returns; the stubs narrow it to a DRF Response.
    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]
        if isinstance(exc, _RedirectToLogin):
            return redirect_to_login(exc.next_url)
        return super().handle_exception(exc)


class _RedirectToLogin(NotAuthenticated):
    def __init__(self, next_url: str) -> None:
        super().__init__()
        self.next_url = next_url


class SwaggerView(_SignInPage, SpectacularSwaggerSplitView):
    permission_classes = [ApiDocsAccess]


class RedocView(_SignInPage, SpectacularRedocView):
    permission_classes = [ApiDocsAccess]
    template_name = "web/redoc.html"  # served entirely from this site (no web fonts, no CDN logo)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    path("v1/", include("hitl_crm.contacts.api.urls")),
    path("v1/", include("approvals.api.urls")),
    path("v1/", include("leads.api.urls")),
    path("v1/", include("service.api.urls")),
    path("v1/", include("marketing.api.urls")),
]

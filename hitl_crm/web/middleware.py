from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

# Swagger UI styles some elements inline; only the API docs page is allowed that.
_RELAXED_PREFIXES = ("/api/docs/", "/api/redoc/")


class ContentSecurityPolicyMiddleware:
    """Send the Content-Security-Policy header (no inline scripts anywhere)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            if request.path.startswith(_RELAXED_PREFIXES):
                policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
                policy = policy.replace("img-src 'self' data:", "img-src 'self' data: blob:")
            response["Content-Security-Policy"] = policy
        return response


class PrivateCacheMiddleware:
    """``Cache-Control: private, no-store`` on every response to a signed-in user (pages and API).

    What a signed-in user sees (customers, cases, drafts) must not stay in a shared proxy or in
    the browser's cache after sign-out. A view that set its own ``Cache-Control`` keeps it.
    Listed after the authentication middleware; API token users count too (DRF sets the user
    on the request it authenticates).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if "Cache-Control" not in response and user is not None and user.is_authenticated:
            response["Cache-Control"] = "private, no-store"
        return response


def _login_url() -> str:
    return resolve_url(settings.LOGIN_URL)


def _same_origin_path(request: HttpRequest, url: str | None) -> str | None:
    """The path (with query) of ``url`` if it points at this site, else ``None``."""
    if not url:
        return None
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _post_only_parent(request: HttpRequest) -> str | None:
    """For ``/approvals/5/decide/`` the item page ``/approvals/5/``, if such a page exists."""
    parent = request.path.rstrip("/").rpartition("/")[0] + "/"
    if parent == request.path:
        return None
    try:
        resolve(parent)
    except Resolver404:
        return None
    return parent


class HtmxSessionMiddleware:
    """Make an expired session or a bookmarked action URL recoverable instead of losing work.

    * An HTMX request from a signed-out user gets ``401`` with ``HX-Redirect`` to the sign-in page
      (``next`` = the page the person is on, not the action URL), instead of the sign-in page HTML
      being pasted into a panel. ``web/htmx-errors.js`` saves the unsaved fields before it goes.
    * A plain form post from a signed-out user signs in back to the page the form was on.
    * A GET to a POST-only action URL (e.g. the ``next`` of an old sign-in link) redirects to the
      item page instead of a blank 405.

    Listed after ``django_htmx.middleware.HtmxMiddleware`` and the authentication middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_out = user is None or not user.is_authenticated
        if signed_out and response.status_code == 302 and self._is_login_redirect(response):
            return self._login_redirect(request, response)
        if (
            response.status_code == 405
            and request.method in ("GET", "HEAD")
            and not getattr(request, "htmx", False)
            and "json" not in response.get("Content-Type", "")  # API clients keep their 405
            and (parent := _post_only_parent(request))
        ):
            return HttpResponseRedirect(parent)
        return response

    @staticmethod
    def _is_login_redirect(response: HttpResponse) -> bool:
        return urlsplit(response.get("Location", "")).path == _login_url()

    @staticmethod
    def _login_redirect(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        htmx = getattr(request, "htmx", None)
        if htmx:
            here = _same_origin_path(request, htmx.current_url) or request.get_full_path()
            answer = HttpResponse("Your session has ended. Sign in again.", status=401, content_type="text/plain")
            answer["HX-Redirect"] = f"{_login_url()}?{urlencode({REDIRECT_FIELD_NAME: here})}"
            answer["WWW-Authenticate"] = 'Session realm="hitl-crm"'
            return answer
        origin = _same_origin_path(request, request.headers.get("Referer"))
        if request.method not in ("GET", "HEAD") and origin:
            return HttpResponseRedirect(f"{_login_url()}?{urlencode({REDIRECT_FIELD_NAME: origin})}")
        return response

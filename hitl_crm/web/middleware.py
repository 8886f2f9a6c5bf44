from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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

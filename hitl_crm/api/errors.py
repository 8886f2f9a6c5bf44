"""One error shape for every API response.

A 400 names each field and the reason::

    {"detail": "email: Enter a valid email address.",
     "errors": [{"field": "email", "message": "Enter a valid email address.", "code": "invalid"}]}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hitl_crm.errors import InvalidState
from hitl_crm.validation import error_items


class StateConflict(exceptions.APIException):
    status_code = 409
    default_detail = "This is not possible in the current state."
    default_code = "invalid_state"


def _flatten(detail: Any) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message, "code": e.code} for e in error_items(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; they speak for the API too.
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, InvalidState):
        # Any app's "not now" (already sent, closed, decided …) is a 409 with its own message.
        exc = StateConflict(detail=str(exc))
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    errors = _flatten(response.data)
    response.data = {
        "detail": "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid input.",
        "errors": errors,
    }
    return response


API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site's 404: JSON in the error format under /api/ (e.g. ``/api/v1/leads/1.5/``), else the page."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    from hitl_crm.web.views import error_404

    return error_404(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """The site's 500: JSON in the error format under /api/, else the page."""
    if _is_api(request):
        return JsonResponse({"detail": "Something went wrong on our side; the error has been logged."}, status=500)
    from hitl_crm.web.views import error_500

    return error_500(request)

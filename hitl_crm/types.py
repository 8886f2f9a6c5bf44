"""Request types shared by the kernel, approvals and the feature apps.

Annotations only: nothing here changes what a request or a user is at run time. Services, selectors
and audit records take a ``django.contrib.auth.models.User`` (the model every ``settings.AUTH_USER_MODEL``
foreign key of these apps resolves to under the type checker); a view hands them ``request.user`` once
anonymous visitors have been turned away, which these types let the checker see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from rest_framework.request import Request


class HtmxHttpRequest(HttpRequest):
    """A request that went through ``django_htmx.middleware.HtmxMiddleware`` (it sets ``request.htmx``)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request to a view behind ``login_required``: ``request.user`` is a signed-in ``User``."""

    user: User


class AuthenticatedHtmxHttpRequest(AuthenticatedHttpRequest, HtmxHttpRequest):
    """A request to an HTMX-aware view behind ``login_required``."""


def authenticated_user(request: HttpRequest | Request) -> User:
    """``request.user`` where anonymous visitors were already turned away.

    For code the type checker cannot see that from: DRF views behind ``IsAuthenticated``, admin
    ``ModelAdmin`` methods (the admin site serves signed-in staff only) and helpers they call.
    """
    return cast(User, request.user)

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission, DjangoModelPermissions

from hitl_crm.api.conf import app_settings

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ModelPermissions(DjangoModelPermissions):
    """Model permissions where reading also needs the ``view`` permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class ApiDocsAccess(BasePermission):
    """The schema and its documentation pages: signed-in users (session or token), or anyone when
    ``HITL_CRM_API_DOCS_PUBLIC`` is on. The schema maps every endpoint and field of the API."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return app_settings.DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)

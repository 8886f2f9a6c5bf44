"""Lazy settings of the shared API pieces (read on access, so ``override_settings`` works)."""

from __future__ import annotations

from django.conf import settings


class _Settings:
    @property
    def DOCS_PUBLIC(self) -> bool:
        """Serve ``/api/schema/``, ``/api/docs/`` and ``/api/redoc/`` to anyone; off: signed-in users only."""
        return bool(getattr(settings, "HITL_CRM_API_DOCS_PUBLIC", False))


app_settings = _Settings()

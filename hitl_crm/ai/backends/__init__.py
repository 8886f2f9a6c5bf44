"""Backends run a skill: ``offline`` (default), ``openai`` (any OpenAI-compatible endpoint),
``anthropic``, or any class named by dotted path in ``HITL_CRM_AI``."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.utils.module_loading import import_string

from hitl_crm.ai.backends.base import Backend, BackendResponse
from hitl_crm.ai.errors import AiConfigurationError

BUILTIN = {
    "offline": "hitl_crm.ai.backends.offline.OfflineBackend",
    "openai": "hitl_crm.ai.backends.openai.OpenAIBackend",
    "anthropic": "hitl_crm.ai.backends.anthropic.AnthropicBackend",
}


@cache
def _backend_class(path: str) -> type:
    try:
        return import_string(path)
    except ImportError as exc:
        raise AiConfigurationError(f"HITL_CRM_AI backend {path!r} cannot be imported: {exc}") from exc


def get_backend(config: dict[str, Any]) -> Backend:
    """Instantiate the backend a skill's config names (a built-in name or a dotted path)."""
    name = str(config.get("backend") or "offline")
    return _backend_class(BUILTIN.get(name, name))()


__all__ = ["BUILTIN", "Backend", "BackendResponse", "get_backend"]

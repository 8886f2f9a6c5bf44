"""A stand-in AI backend for tests: the provider is down (no network is touched)."""

from __future__ import annotations

from typing import Any

from hitl_crm.ai.errors import BackendError


class DownBackend:
    name = "down"
    external = True

    def complete(self, skill: Any, inputs: dict[str, Any], *, config: dict[str, Any]) -> Any:
        raise BackendError("HTTP 503 from the provider")

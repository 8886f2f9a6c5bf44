"""The offline backend: the skill's own local implementation. Deterministic, no network."""

from __future__ import annotations

from typing import Any

from hitl_crm.ai.backends.base import BackendResponse
from hitl_crm.ai.skills.base import Skill


class OfflineBackend:
    name = "offline"
    external = False

    def complete(self, skill: Skill, inputs: dict[str, Any], *, config: dict[str, Any]) -> BackendResponse:
        output = skill.offline(inputs)
        return BackendResponse(output=output, model=str(output.get("intent_model") or "offline"), finalized=True)

"""The backend protocol and what a backend hands back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hitl_crm.ai.skills.base import Skill


@dataclass(frozen=True)
class BackendResponse:
    """``output`` is the skill's full output when ``finalized`` (offline), else the raw JSON the
    model returned, already validated against ``skill.llm_output_schema``."""

    output: dict[str, Any]
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    attempts: int = 1
    finalized: bool = False


@runtime_checkable
class Backend(Protocol):
    """Runs one skill on one input.

    ``external`` backends send data off the machine: the engine redacts personal data
    from their inputs and re-hydrates their output. Ordinary failures must be raised as
    :class:`hitl_crm.ai.errors.BackendError` (``status="failed"`` or ``"invalid"``).
    """

    name: str
    external: bool

    def complete(self, skill: Skill, inputs: dict[str, Any], *, config: dict[str, Any]) -> BackendResponse: ...

"""The AI engine: skills, backends (offline, OpenAI-compatible, Anthropic), trust layer, guards, provenance.

Call it as::

    from hitl_crm.ai.engine import run, AiResult
    result = run("draft_reply", {"customer_text": ..., "knowledge": [...]}, subject=case)

``hitl_crm.ai`` never imports approvals or feature apps; they call it. This package module
stays import-light (Django imports it before models are ready): ``run``, ``AiResult`` and
``AiError`` are re-exported lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AiError", "AiResult", "run"]


def __getattr__(name: str) -> Any:
    if name in {"run", "AiResult"}:
        from hitl_crm.ai import engine

        return getattr(engine, name)
    if name == "AiError":
        from hitl_crm.ai.errors import AiError

        return AiError
    raise AttributeError(f"module 'hitl_crm.ai' has no attribute {name!r}")

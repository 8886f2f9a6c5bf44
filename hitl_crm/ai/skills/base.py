"""What a skill is: schemas, an offline implementation, and a versioned LLM prompt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hitl_crm.ai.schema import Schema


def _no_texts(_output: dict[str, Any]) -> list[str]:
    return []


def _no_sources(_inputs: dict[str, Any]) -> list[str]:
    return []


def _no_errors(_inputs: dict[str, Any]) -> list[str]:
    return []


def _identity(output: dict[str, Any], _inputs: dict[str, Any]) -> dict[str, Any]:
    return output


@dataclass(frozen=True)
class Skill:
    """One capability of the engine.

    ``offline`` computes the full output from the inputs without any network.
    An LLM backend sends ``build_prompt(inputs)`` (with the shared system prompt) and must
    return JSON valid against ``llm_output_schema``; ``finalize`` turns that into the same
    full output shape (``output_schema``) the offline implementation produces, adding the
    parts that are always computed locally (facts, risk lexicon, citations …).
    ``generated_texts`` names the text the guards check; ``grounding_sources`` what may
    ground it; ``policy`` the caller's policy lines.
    """

    name: str
    description: str
    input_schema: Schema
    output_schema: Schema
    llm_output_schema: Schema
    prompt_version: str
    offline_version: str
    offline: Callable[[dict[str, Any]], dict[str, Any]]
    build_prompt: Callable[[dict[str, Any]], str]
    finalize: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = _identity
    generated_texts: Callable[[dict[str, Any]], list[str]] = _no_texts
    grounding_sources: Callable[[dict[str, Any]], list[str]] = _no_sources
    policy: Callable[[dict[str, Any]], list[str]] = _no_sources
    noun: str = "The output"  # how guard flags name what they checked ("The draft states …")
    defaults: dict[str, Any] = field(default_factory=dict)
    check_inputs: Callable[[dict[str, Any]], list[str]] = _no_errors

"""Fixtures for the AI engine tests: the shared fake provider of :mod:`tests.fakes`.

No test reaches the internet: LLM backends talk to a :class:`~tests.fakes.FakeLLM` server on
127.0.0.1; custom backends are :class:`~tests.fakes.FakeBackend` and its fixed-behaviour subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes import (
    FAKE_ANTHROPIC_KEY,
    FAKE_OPENAI_KEY,
    FakeBackend,
    FakeLLM,
    fake_ai_reset,
    llm_config,
    serve_fake_llm,
)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with serve_fake_llm() as fake:
        yield fake


@pytest.fixture
def use_llm(settings, fake_llm: FakeLLM, monkeypatch) -> Callable[..., FakeLLM]:
    """Route a skill to the fake server: ``use_llm("draft_reply", backend="openai", max_retries=1)``."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)

    def configure(skill: str, *, backend: str = "openai", **options: Any) -> FakeLLM:
        current = dict(getattr(settings, "HITL_CRM_AI", {}) or {})
        skills = dict(current.get("skills") or {})
        skills[skill] = llm_config(fake_llm, backend=backend, **options)
        settings.HITL_CRM_AI = {**current, "skills": skills}
        return fake_llm

    return configure


@pytest.fixture
def fake_backend() -> Iterator[type[FakeBackend]]:
    """:class:`FakeBackend` with an empty script and call log, cleared again afterwards."""
    fake_ai_reset()
    yield FakeBackend
    fake_ai_reset()

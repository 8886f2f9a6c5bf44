"""System checks for ``HITL_CRM_AI`` (ids ``ai.E00x`` / ``ai.W00x``)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from hitl_crm.ai.conf import BACKEND_DEFAULTS, MAX_RETRIES_CAP, app_settings

_SDK = {"openai": ("openai", "OPENAI_API_KEY"), "anthropic": ("anthropic", "ANTHROPIC_API_KEY")}


def check_ai_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    from hitl_crm.ai.backends import BUILTIN
    from hitl_crm.ai.skills import SKILLS

    raw = getattr(settings, "HITL_CRM_AI", None)
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [Error("HITL_CRM_AI must be a dict.", hint='e.g. {"default": {"backend": "offline"}}', id="ai.E001")]
    messages: list[CheckMessage] = []
    unknown_keys = set(raw) - {"default", "skills"}
    if unknown_keys:
        messages.append(
            Error(
                f"HITL_CRM_AI has unknown keys: {', '.join(sorted(unknown_keys))}.",
                hint='Use "default" and "skills".',
                id="ai.E001",
            )
        )
    skills = raw.get("skills") or {}
    for name in sorted(set(skills) - set(SKILLS)):
        messages.append(
            Error(
                f"HITL_CRM_AI['skills'] names an unknown skill {name!r}.",
                hint=f"Known skills: {', '.join(sorted(SKILLS))}.",
                id="ai.E002",
            )
        )
    for skill in sorted(SKILLS):
        config = app_settings.backend_config(skill)
        messages.extend(_check_backend(skill, config, BUILTIN))
    return messages


def _check_backend(skill: str, config: dict[str, Any], builtin: dict[str, str]) -> list[CheckMessage]:
    from django.utils.module_loading import import_string

    out: list[CheckMessage] = []
    backend = str(config.get("backend") or "offline")
    where = f"HITL_CRM_AI backend for {skill!r}"
    unknown = set(config) - set(BACKEND_DEFAULTS)
    if unknown:
        out.append(
            Error(
                f"{where} has unknown options: {', '.join(sorted(unknown))}.",
                hint=f"Known options: {', '.join(sorted(BACKEND_DEFAULTS))}.",
                id="ai.E004",
            )
        )
    if backend not in builtin:
        try:
            import_string(backend)
        except ImportError as exc:
            return [
                *out,
                Error(
                    f"{where}: {backend!r} is neither offline/openai/anthropic nor importable ({exc}).", id="ai.E003"
                ),
            ]
    try:
        timeout = float(config.get("timeout", 0))
        retries = int(config.get("max_retries", 0))
        backoff = float(config.get("backoff", 0))
    except (TypeError, ValueError):
        return [*out, Error(f"{where}: timeout, max_retries and backoff must be numbers.", id="ai.E004")]
    if timeout <= 0 or not 0 <= retries <= MAX_RETRIES_CAP or backoff < 0:
        out.append(
            Error(f"{where}: needs timeout > 0, 0 <= max_retries <= {MAX_RETRIES_CAP} and backoff >= 0.", id="ai.E004")
        )
    if backend in _SDK:
        module, key_env = _SDK[backend]
        if not config.get("model"):
            out.append(Error(f"{where}: no model is set.", id="ai.E005"))
        if importlib.util.find_spec(module) is None:
            out.append(
                Warning(
                    f"{where} is {backend!r} but the {module} package is not installed.",
                    hint="pip install 'hitl-crm[llm]'",
                    id="ai.W001",
                )
            )
        env = config.get("api_key_env") or key_env
        if not config.get("base_url") and not os.environ.get(env):
            out.append(
                Warning(
                    f"{where}: the environment variable {env} is not set; calls will fail.",
                    hint="Set it, or set api_key_env to the variable that holds the key.",
                    id="ai.W002",
                )
            )
    return out

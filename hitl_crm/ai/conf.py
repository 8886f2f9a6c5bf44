"""Lazy app settings for the AI engine (read on access, so ``override_settings`` works).

``HITL_CRM_AI`` chooses a backend per skill::

    HITL_CRM_AI = {
        "default": {"backend": "offline"},
        "skills": {
            "draft_reply": {
                "backend": "openai",            # or "anthropic", "offline", or "path.to.BackendClass"
                "model": "gpt-4o-mini",
                "base_url": "http://localhost:11434/v1",   # Ollama, vLLM, llama.cpp, Azure (…/openai/v1/)
                "api_key_env": "OPENAI_API_KEY",           # name of the environment variable, never the key
                "timeout": 20,                  # seconds per attempt (the SDK's own timeout)
                "max_retries": 2,               # our retries; the SDK's are switched off
                "backoff": 0.5,                 # first retry waits backoff s, then 2x, 4x …
                "max_tokens": 1024,
                "max_tokens_param": "max_tokens",  # "max_completion_tokens" for OpenAI reasoning models
                "temperature": 0.0,             # omit for the provider's default
                "json_mode": True,              # send response_format={"type": "json_object"}
                "price_in_per_mtok": 0.15,      # USD per million input tokens, for AiRun.cost_usd
                "price_out_per_mtok": 0.60,
            }
        },
    }

Skill entries are merged over ``default``, which is merged over :data:`BACKEND_DEFAULTS`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

BACKEND_DEFAULTS: dict[str, Any] = {
    "backend": "offline",
    "model": "",
    "base_url": "",
    "api_key_env": "",
    "timeout": 20.0,
    "max_retries": 2,
    "backoff": 0.5,
    "max_tokens": 1024,
    "max_tokens_param": "max_tokens",
    "temperature": None,
    "json_mode": True,
    "price_in_per_mtok": 0.0,
    "price_out_per_mtok": 0.0,
    "headers": {},
    "query": {},
}

#: Retries are bounded whatever the settings say.
MAX_RETRIES_CAP = 5


class _Settings:
    @property
    def AI(self) -> dict[str, Any]:
        """The raw ``HITL_CRM_AI`` mapping (empty: every skill runs offline)."""
        value = getattr(settings, "HITL_CRM_AI", None)
        return value if isinstance(value, dict) else {}

    @property
    def COMPANY_NAME(self) -> str:
        """Signed under offline drafts when no agent name is given."""
        return getattr(settings, "HITL_CRM_COMPANY_NAME", "") or ""

    @property
    def DEFAULT_PHONE_REGION(self) -> str:
        """Region used to recognise phone numbers written without a country code."""
        return getattr(settings, "HITL_CRM_DEFAULT_PHONE_REGION", "US")

    @property
    def DEFAULT_REGION(self) -> str:
        """The site's region (ISO 3166 alpha-2, e.g. "GB") for national phone numbers and ids written
        without a country code, when the contact's own region is not known. Falls back to
        ``HITL_CRM_DEFAULT_PHONE_REGION``, then "US"."""
        value = getattr(settings, "HITL_CRM_AI_DEFAULT_REGION", "") or getattr(
            settings, "HITL_CRM_DEFAULT_PHONE_REGION", ""
        )
        return str(value or "US").upper()

    @property
    def CONTACT_MODEL(self) -> str:
        """``app_label.Model`` of the CRM contacts whose names and e-mails a draft must not leak."""
        return getattr(settings, "HITL_CRM_AI_CONTACT_MODEL", "contacts.Contact")

    def backend_config(self, skill: str) -> dict[str, Any]:
        """The effective backend options for ``skill``: defaults < ``default`` < ``skills[skill]``."""
        ai = self.AI
        config = dict(BACKEND_DEFAULTS)
        config.update(ai.get("default") or {})
        config.update((ai.get("skills") or {}).get(skill) or {})
        return config


app_settings = _Settings()

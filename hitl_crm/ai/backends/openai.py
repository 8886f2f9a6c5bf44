"""OpenAI-compatible chat completions: OpenAI, Azure OpenAI (v1 endpoint), Ollama, vLLM, llama.cpp.

Point ``base_url`` at the server (e.g. ``http://localhost:11434/v1`` for Ollama,
``https://<resource>.openai.azure.com/openai/v1/`` for Azure). The ``openai`` SDK is
imported only when a call is made.
"""

from __future__ import annotations

from typing import Any

from hitl_crm.ai.backends.llm import LlmBackend, classify_status
from hitl_crm.ai.errors import BackendError


class OpenAIBackend(LlmBackend):
    name = "openai"
    default_key_env = "OPENAI_API_KEY"

    def client(self, config: dict[str, Any], api_key: str) -> Any:
        try:
            import openai
        except ImportError:
            raise BackendError("The openai package is not installed (pip install 'hitl-crm[llm]').") from None
        return openai.OpenAI(
            api_key=api_key,
            base_url=config.get("base_url") or None,
            timeout=float(config.get("timeout", 20)),
            max_retries=0,  # we retry ourselves, visibly and boundedly
            default_headers=config.get("headers") or None,
            default_query=config.get("query") or None,
        )

    def call(self, client: Any, system: str, user: str, config: dict[str, Any]) -> tuple[str, int, int, str]:
        kwargs: dict[str, Any] = {
            "model": config["model"],
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            config.get("max_tokens_param") or "max_tokens": int(config.get("max_tokens", 1024)),
        }
        if config.get("temperature") is not None:
            kwargs["temperature"] = float(config["temperature"])
        if config.get("json_mode", True):
            kwargs["response_format"] = {"type": "json_object"}
        response = client.chat.completions.create(**kwargs)
        if not response.choices:
            raise BackendError("The AI provider returned no choices.")
        text = response.choices[0].message.content or ""
        usage = response.usage
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        return text, tokens_in, tokens_out, str(response.model or config["model"])

    def classify(self, exc: Exception, config: dict[str, Any]) -> tuple[bool, str, float]:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return True, f"The AI provider did not answer within {config.get('timeout')}s", 0.0
        if isinstance(exc, openai.APIConnectionError):
            return True, f"Could not reach the AI provider: {exc}", 0.0
        if isinstance(exc, openai.APIStatusError):
            return classify_status(exc)
        if isinstance(exc, BackendError):
            return False, str(exc), 0.0
        return False, f"Unexpected error from the AI SDK: {type(exc).__name__}: {exc}", 0.0

"""Anthropic's Messages API. The ``anthropic`` SDK is imported only when a call is made."""

from __future__ import annotations

from typing import Any

from hitl_crm.ai.backends.llm import LlmBackend, classify_status
from hitl_crm.ai.errors import BackendError


class AnthropicBackend(LlmBackend):
    name = "anthropic"
    default_key_env = "ANTHROPIC_API_KEY"

    def client(self, config: dict[str, Any], api_key: str) -> Any:
        try:
            import anthropic
        except ImportError:
            raise BackendError("The anthropic package is not installed (pip install 'hitl-crm[llm]').") from None
        return anthropic.Anthropic(
            api_key=api_key,
            base_url=config.get("base_url") or None,
            timeout=float(config.get("timeout", 20)),
            max_retries=0,  # we retry ourselves, visibly and boundedly
            default_headers=config.get("headers") or None,
        )

    def call(self, client: Any, system: str, user: str, config: dict[str, Any]) -> tuple[str, int, int, str]:
        kwargs: dict[str, Any] = {
            "model": config["model"],
            "max_tokens": int(config.get("max_tokens", 1024)),
            "system": system,
            "messages": [{"role": "user", "content": user}],
        }
        if config.get("temperature") is not None:
            # Recent SDKs no longer take temperature as an argument; the API still accepts it.
            kwargs["extra_body"] = {"temperature": float(config["temperature"])}
        response = client.messages.create(**kwargs)
        text = "".join(getattr(block, "text", "") for block in response.content if getattr(block, "type", "") == "text")
        usage = response.usage
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        return text, tokens_in, tokens_out, str(getattr(response, "model", "") or config["model"])

    def classify(self, exc: Exception, config: dict[str, Any]) -> tuple[bool, str, float]:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return True, f"The AI provider did not answer within {config.get('timeout')}s", 0.0
        if isinstance(exc, anthropic.APIConnectionError):
            return True, f"Could not reach the AI provider: {exc}", 0.0
        if isinstance(exc, anthropic.APIStatusError):
            return classify_status(exc)
        if isinstance(exc, BackendError):
            return False, str(exc), 0.0
        return False, f"Unexpected error from the AI SDK: {type(exc).__name__}: {exc}", 0.0

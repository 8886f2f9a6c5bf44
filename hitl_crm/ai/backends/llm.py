"""What the OpenAI-compatible and Anthropic backends share: prompt, bounded retries, JSON checks, cost.

The SDK's own retries are switched off (``max_retries=0``) and retried here with exponential
backoff, so the number of attempts is bounded by ``max_retries`` (capped at
:data:`hitl_crm.ai.conf.MAX_RETRIES_CAP`), countable and recorded on the ``AiRun``.
Timeouts, connection errors, HTTP 429 and 5xx are retried; other HTTP errors are not.
An answer that is not JSON, or not valid against the skill's schema, is an *invalid* run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from decimal import Decimal
from typing import Any, TypedDict

from hitl_crm.ai.backends.base import BackendResponse
from hitl_crm.ai.conf import MAX_RETRIES_CAP
from hitl_crm.ai.errors import BackendError
from hitl_crm.ai.prompts import SYSTEM_PROMPT
from hitl_crm.ai.schema import validate
from hitl_crm.ai.skills.base import Skill

logger = logging.getLogger("hitl_crm.ai")
_FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)
MAX_RETRY_AFTER = 30.0


class _CallFigures(TypedDict):
    """What a failed answer still reports to ``BackendError`` (and so to the ``AiRun``)."""

    attempts: int
    raw: str
    tokens_in: int
    tokens_out: int
    model: str


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (tolerating a ```json fence or chatter around it)."""
    candidates = [text.strip()]
    fenced = _FENCED_JSON.search(text)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("the answer is not a JSON object")


def cost(tokens_in: int, tokens_out: int, config: dict[str, Any]) -> Decimal:
    price_in = Decimal(str(config.get("price_in_per_mtok") or 0))
    price_out = Decimal(str(config.get("price_out_per_mtok") or 0))
    return ((tokens_in * price_in + tokens_out * price_out) / Decimal(1_000_000)).quantize(Decimal("0.000001"))


class LlmBackend:
    """Template for chat-style LLM backends; subclasses provide ``client``, ``call`` and ``classify``."""

    name = "llm"
    external = True
    default_key_env = ""

    # --- subclass hooks -----------------------------------------------------------------------
    def client(self, config: dict[str, Any], api_key: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, client: Any, system: str, user: str, config: dict[str, Any]) -> tuple[str, int, int, str]:
        """Send one request; return (text, tokens_in, tokens_out, model)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def classify(self, exc: Exception, config: dict[str, Any]) -> tuple[bool, str, float]:
        """(retryable, message for the AiRun, seconds the server asked us to wait)."""
        raise NotImplementedError  # pragma: no cover - abstract

    # --- shared flow --------------------------------------------------------------------------
    def api_key(self, config: dict[str, Any]) -> str:
        env = config.get("api_key_env") or self.default_key_env
        key = os.environ.get(env, "") if env else ""
        if key:
            return key
        if config.get("base_url"):
            return "not-needed"  # local servers (Ollama, vLLM, llama.cpp) accept any key
        raise BackendError(f"No API key: set the environment variable {env} (named by api_key_env).")

    def complete(self, skill: Skill, inputs: dict[str, Any], *, config: dict[str, Any]) -> BackendResponse:
        if not config.get("model"):
            raise BackendError(f"No model configured for skill {skill.name!r} (HITL_CRM_AI … 'model').")
        user = skill.build_prompt(inputs)
        client = self.client(config, self.api_key(config))
        retries = max(0, min(int(config.get("max_retries", 0)), MAX_RETRIES_CAP))
        backoff = float(config.get("backoff", 0.5))
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    text, tokens_in, tokens_out, model = self.call(client, SYSTEM_PROMPT, user, config)
                    break
                except Exception as exc:
                    retryable, message, retry_after = self.classify(exc, config)
                    if not retryable or attempts > retries:
                        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
                        raise BackendError(f"{message} ({tries})", attempts=attempts) from exc
                    wait = max(backoff * 2 ** (attempts - 1), min(retry_after, MAX_RETRY_AFTER))
                    logger.warning(
                        "AI %s call for %s failed (%s); retry %d in %.2fs",
                        self.name,
                        skill.name,
                        message,
                        attempts,
                        wait,
                    )
                    time.sleep(wait)
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
        spent = cost(tokens_in, tokens_out, config)
        common: _CallFigures = {
            "attempts": attempts,
            "raw": text,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "model": model,
        }
        try:
            data = parse_json_object(text)
        except ValueError:
            raise BackendError("The model's answer is not valid JSON.", status="invalid", **common) from None
        errors = validate(data, skill.llm_output_schema)
        if errors:
            shown = "; ".join(errors[:5])
            raise BackendError(
                f"The model's answer does not match the {skill.name} schema: {shown}", status="invalid", **common
            )
        return BackendResponse(data, model, tokens_in, tokens_out, spent, attempts)


def status_message(status: int | None, body: str) -> str:
    if status == 429:
        return "Rate limited by the AI provider (HTTP 429)"
    if status is not None and status >= 500:
        return f"The AI provider failed (HTTP {status})"
    return f"The AI provider refused the request (HTTP {status}): {body[:200]}"


def classify_status(exc: Any) -> tuple[bool, str, float]:
    """(retryable, message, Retry-After seconds) for an SDK's HTTP status error."""
    status = getattr(exc, "status_code", None)
    retry_after = 0.0
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        retry_after = float(exc.response.headers.get("retry-after", 0) or 0)
    retryable = status in {408, 409, 429} or (status is not None and status >= 500)
    return retryable, status_message(status, str(getattr(exc, "message", exc))), retry_after

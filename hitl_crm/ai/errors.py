"""Exceptions of the AI engine.

Only *programming* mistakes raise: an unknown skill, inputs that do not match the
skill's schema, a backend setting that cannot work. Ordinary failures of a backend
(timeouts, HTTP errors, invalid model output) never raise out of
:func:`hitl_crm.ai.engine.run`; they come back as ``AiResult(ok=False)`` with the
``AiRun`` saved as failed or invalid, so the caller can hand the item to a person.
"""

from __future__ import annotations


class AiError(Exception):
    """A programming or configuration error in a call to the AI engine."""


class UnknownSkillError(AiError):
    """The skill name is not registered."""


class AiInputError(AiError):
    """The inputs do not match the skill's input schema; the message names the field."""

    def __init__(self, skill: str, errors: list[str]) -> None:
        self.skill = skill
        self.errors = errors
        super().__init__(f"Invalid inputs for skill {skill!r}: " + "; ".join(errors))


class AiConfigurationError(AiError):
    """``HITL_CRM_AI`` names a backend or option that cannot work."""


class BackendError(Exception):
    """An ordinary backend failure, turned into a failed/invalid ``AiRun`` by the engine.

    ``status`` is ``"failed"`` (no usable answer: timeout, HTTP error, SDK missing) or
    ``"invalid"`` (an answer came back but did not match the skill's output schema).
    """

    def __init__(
        self,
        message: str,
        *,
        status: str = "failed",
        attempts: int = 1,
        raw: str = "",
        tokens_in: int = 0,
        tokens_out: int = 0,
        model: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts
        self.raw = raw
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.model = model

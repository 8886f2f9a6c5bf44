"""The AI engine's one entry point: ``run(skill, inputs, *, subject=None, context=None) -> AiResult``.

    from hitl_crm.ai.engine import run

    result = run("triage", {"text": message.body}, subject=case)
    if not result.ok:
        case_flag_for_human(case, reason=result.run.error)     # nothing is lost
    elif result.risk in {"high", "critical"} or result.flags:
        ...                                                      # route to a qualified person

Every call:
1. validates ``inputs`` against the skill's input schema (a mistake raises :class:`AiInputError`
   naming the field — that is a programming error, not a runtime failure);
2. redacts personal data (emails, phones, card numbers, IBANs, and the names/emails/phones of
   ``subject`` and ``context["known"]``); the redacted inputs are what an external backend
   receives and what ``AiRun.input_redacted`` keeps, for every run, offline included;
3. runs the skill on the backend ``HITL_CRM_AI`` chooses for it, re-hydrating placeholders in an
   external backend's answer, and validates the output against the skill's output schema and the
   bounds of :data:`hitl_crm.ai.schema.OUTPUT_BOUNDS` (label lengths, draft size, enums, ranges): an
   output out of bounds is an ``invalid`` run with the reason, never silently cut (flag messages
   and spans, which are display-only, are clipped);
4. runs the guards on generated text, merges their flags with the skill's own, raises the risk
   accordingly and lowers confidence for every high-severity guard flag;
5. saves an :class:`~hitl_crm.ai.models.AiRun` with what the AI saw and said, latency, tokens,
   cost, status and error, in its own atomic block, and returns an :class:`AiResult`. Called with
   no transaction open (as the service pipeline does), the run is committed before the caller
   applies anything, so a later failure of the caller never loses it; ``run_reject`` marks a run
   whose output the caller could not use.

An ordinary backend failure (timeout, HTTP error, rate limit, malformed or invalid JSON, SDK
missing) never raises: the result has ``ok=False``, an ``ai_failed`` flag and risk ``high``, and
the run is saved as ``failed`` or ``invalid`` with the error text.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from hitl_crm.ai import guards
from hitl_crm.ai.backends import get_backend
from hitl_crm.ai.backends.base import Backend, BackendResponse
from hitl_crm.ai.conf import app_settings
from hitl_crm.ai.errors import AiError, AiInputError, BackendError
from hitl_crm.ai.models import AiRun
from hitl_crm.ai.nlp.risk import flag, max_risk
from hitl_crm.ai.prompts import SYSTEM_PROMPT_VERSION
from hitl_crm.ai.schema import bounds_errors, clip_flag, validate
from hitl_crm.ai.skills import get_skill
from hitl_crm.ai.skills.base import Skill
from hitl_crm.ai.trust import Redactor, known_from_subject, merge_known, rehydrate

logger = logging.getLogger("hitl_crm.ai")

#: Confidence is multiplied by this for each guard flag of that severity.
GUARD_PENALTY = {"high": 0.5, "medium": 0.8, "low": 1.0}
_NAME_INPUTS = ("customer_name", "lead_name")
_ROLES = frozenset(
    {"customer", "agent", "support", "user", "assistant", "bot", "ai", "system", "rep", "sales", "staff"}
)


@dataclass(frozen=True)
class AiResult:
    """What a caller gets back. ``ok=False`` means: hand this item to a person (see ``run.error``)."""

    output: dict[str, Any]
    confidence: float
    run: AiRun
    flags: list[dict[str, str]] = field(default_factory=list)
    ok: bool = True
    risk: str = "low"

    @property
    def error(self) -> str:
        return self.run.error


@dataclass(frozen=True)
class Outcome:
    """The result of executing a skill, before anything is saved."""

    output: dict[str, Any]
    flags: list[dict[str, str]]
    risk: str
    confidence: float
    response: BackendResponse


def prepare_inputs(skill: Skill, inputs: dict[str, Any]) -> dict[str, Any]:
    """Apply the skill's defaults and validate; raise :class:`AiInputError` naming the fields."""
    if not isinstance(inputs, dict):
        raise AiInputError(skill.name, [f"$: expected an object (dict), got {type(inputs).__name__}"])
    clean = {**skill.defaults, **inputs}
    errors = validate(clean, skill.input_schema) or skill.check_inputs(clean)
    if errors:
        raise AiInputError(skill.name, errors)
    return clean


def known_pii(subject: Any, context: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, list[str]]:
    """Personal data to redact by value: the record in hand, the caller's extras, names in the inputs."""
    names = [inputs[k] for k in _NAME_INPUTS if isinstance(inputs.get(k), str) and inputs[k].strip()]
    # Speakers and participants named in a conversation are people too ("customer"/"agent" are roles).
    names += [str(m.get("speaker") or "") for m in inputs.get("messages") or [] if isinstance(m, dict)]
    names += [str(p) for p in inputs.get("participants") or []]
    from_inputs = {"names": [n for n in names if n.strip() and n.strip().lower() not in _ROLES]}
    return merge_known(
        known_from_subject(subject) if subject is not None else None, (context or {}).get("known"), from_inputs
    )


def execute(
    skill: Skill,
    clean: dict[str, Any],
    *,
    backend: Backend,
    config: dict[str, Any],
    redactor: Redactor,
    redacted: dict[str, Any],
) -> Outcome:
    """Run the skill and the guards; raise :class:`BackendError` on an ordinary failure."""
    if getattr(backend, "external", True):
        response = backend.complete(skill, redacted, config=config)
        output = rehydrate(response.output, redactor.mapping)
    else:
        response = backend.complete(skill, clean, config=config)
        output = response.output
    if not response.finalized:
        output = skill.finalize(output, clean)
    errors = validate(output, skill.output_schema)
    if not errors:
        if isinstance(output.get("flags"), list):
            output = {**output, "flags": [clip_flag(f) for f in output["flags"]]}
        errors = bounds_errors(skill.name, output)
    if errors:
        raise BackendError(
            f"The {skill.name} output does not match its schema: {'; '.join(errors[:5])}",
            status="invalid",
            attempts=response.attempts,
            tokens_in=response.tokens_in,
            tokens_out=response.tokens_out,
            model=response.model,
            raw=_raw(response.output),
        )
    guard_flags = guards.check(
        skill.generated_texts(output),
        sources=skill.grounding_sources(clean),
        policy=skill.policy(clean),
        who=skill.noun,
        known=redactor.known if skill.name in guards.ADDRESSED_SKILLS else None,
    )
    flags = [clip_flag(f) for f in guards.dedupe([*output.get("flags", []), *guard_flags])]
    risk = max_risk(output.get("risk", "low"), guards.risk_floor(flags))
    confidence = float(output.get("confidence", 0.0))
    for item in guard_flags:
        confidence *= GUARD_PENALTY.get(item["severity"], 1.0)
    confidence = round(confidence, 4)
    output = {**output, "flags": flags, "risk": risk, "confidence": confidence}
    return Outcome(output, flags, risk, confidence, response)


def _raw(output: Any) -> str:
    """The rejected output as text, kept on the failed run so a reviewer sees what the AI said."""
    try:
        return json.dumps(output, ensure_ascii=False, default=str)[:20_000]
    except (TypeError, ValueError):
        return repr(output)[:20_000]


def _subject_fields(subject: Any) -> dict[str, Any]:
    if isinstance(subject, models.Model) and subject.pk is not None:
        return {"subject_type": ContentType.objects.get_for_model(subject), "subject_id": str(subject.pk)}
    return {}


def run(skill: str, inputs: dict[str, Any], *, subject: Any = None, context: dict[str, Any] | None = None) -> AiResult:
    """Run ``skill`` on ``inputs`` about ``subject`` (any model instance, optional) and record an AiRun.

    ``context`` may carry ``{"known": {"names": [...], "emails": [...], "phones": [...]}}``: more
    personal data to redact by value. Raises :class:`AiError` only for programming mistakes.
    """
    spec = get_skill(skill)
    clean = prepare_inputs(spec, inputs)
    config = app_settings.backend_config(spec.name)
    backend = get_backend(config)
    redactor = Redactor(known_pii(subject, context, clean))
    redacted = redactor.data(clean)
    external = getattr(backend, "external", True)
    record: dict[str, Any] = {
        "skill": spec.name,
        "backend": getattr(backend, "name", type(backend).__name__)[:30],
        "model_name": str(config.get("model") or "")[:100],
        "prompt_version": (f"{spec.prompt_version}+{SYSTEM_PROMPT_VERSION}" if external else spec.offline_version)[:30],
        "input_redacted": redacted,
        **_subject_fields(subject),
    }
    started = time.perf_counter()
    try:
        outcome = execute(spec, clean, backend=backend, config=config, redactor=redactor, redacted=redacted)
    except AiError:
        raise
    except Exception as exc:  # a backend failure, however odd, must never lose the caller's work
        if not isinstance(exc, BackendError):
            logger.exception("AI backend %s crashed on skill %s", record["backend"], spec.name)
            exc = BackendError(f"Unexpected error: {type(exc).__name__}: {exc}")
        return _failure(spec, record, exc, started)
    response = outcome.response
    run_ = _save(
        AiRun(
            **{**record, "model_name": (response.model or record["model_name"])[:100]},
            output=outcome.output,
            confidence=outcome.confidence,
            flags=outcome.flags,
            risk=outcome.risk,
            attempts=response.attempts,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            tokens_in=response.tokens_in,
            tokens_out=response.tokens_out,
            cost_usd=response.cost_usd,
            status=AiRun.Status.OK,
        )
    )
    return AiResult(outcome.output, outcome.confidence, run_, outcome.flags, True, outcome.risk)


def _failure(spec: Skill, record: dict[str, Any], exc: BackendError, started: float) -> AiResult:
    status = AiRun.Status.INVALID if exc.status == "invalid" else AiRun.Status.FAILED
    flags = [
        flag(
            "ai_failed",
            f"The AI could not produce a {spec.name.replace('_', ' ')} result ({exc}). "
            "Please handle this item by hand.",
            "",
            "high",
        )
    ]
    logger.warning("AI run %s via %s %s: %s", spec.name, record["backend"], status, exc)
    run_ = _save(
        AiRun(
            **{**record, "model_name": (exc.model or record["model_name"])[:100]},
            output={"raw": exc.raw[:20_000]} if exc.raw else {},
            confidence=0.0,
            flags=flags,
            risk=AiRun.Risk.HIGH,
            attempts=max(1, exc.attempts),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            tokens_in=exc.tokens_in,
            tokens_out=exc.tokens_out,
            cost_usd=Decimal(0),
            status=status,
            error=str(exc),
        )
    )
    return AiResult({}, 0.0, run_, flags, False, AiRun.Risk.HIGH)


def _save(run_: AiRun) -> AiRun:
    """Record a run in its own atomic block. Callers that must keep the record whatever happens
    next (the service pipeline) call the engine outside any transaction, so it commits here."""
    with transaction.atomic():
        run_.save(force_insert=True)
    return run_


def run_reject(*, run_id: int, reason: str) -> None:
    """Mark a run whose output its caller could not use (an approval refused the draft, a column
    refused the label) as ``invalid`` with the reason, so its record tells the truth. Idempotent;
    call it outside the transaction that failed, so the mark is kept."""
    with transaction.atomic():
        AiRun.objects.filter(pk=run_id).update(
            status=AiRun.Status.INVALID, error=f"The output could not be used: {reason}"[:5000]
        )


def run_offline(skill: str, inputs: dict[str, Any], *, context: dict[str, Any] | None = None) -> Outcome:
    """Execute a skill on the offline backend without saving anything (evaluation, benchmarks)."""
    spec = get_skill(skill)
    clean = prepare_inputs(spec, inputs)
    redactor = Redactor(known_pii(None, context, clean))
    backend = get_backend({"backend": "offline"})
    return execute(spec, clean, backend=backend, config={"backend": "offline"}, redactor=redactor, redacted=clean)


__all__ = ["AiError", "AiResult", "Outcome", "execute", "prepare_inputs", "run", "run_offline", "run_reject"]

"""``triage``: intent, sentiment, risk and language of one customer message."""

from __future__ import annotations

from typing import Any

from hitl_crm.ai.nlp.intent import IntentModel, IntentPrediction, predict_with_rules
from hitl_crm.ai.nlp.language import detect_language
from hitl_crm.ai.nlp.risk import injection_flags, max_risk, profanity_flags, risk_flags, without_injection
from hitl_crm.ai.nlp.sentiment import Sentiment, label_for, sentiment, sentiment_guarded
from hitl_crm.ai.prompts import fence, task_prompt
from hitl_crm.ai.schema import FLAG, PROBABILITY, RISK, array, number, obj, string
from hitl_crm.ai.skills.base import Skill

INPUT_SCHEMA = obj({"text": string(minLength=1), "subject": string()}, ["text"])
LLM_SCHEMA = obj(
    {
        "intent": string(minLength=1),
        "intent_confidence": PROBABILITY,
        "sentiment": number(minimum=-1, maximum=1),
        "sentiment_confidence": PROBABILITY,
        "risk": RISK,
        "risk_confidence": PROBABILITY,
        "language": string(minLength=2, maxLength=8),
        "language_confidence": PROBABILITY,
    },
    ["intent", "intent_confidence", "sentiment", "sentiment_confidence", "risk", "language"],
    extra=True,
)
OUTPUT_SCHEMA = obj(
    {
        **LLM_SCHEMA["properties"],
        "method": string(enum=["model", "rules", "llm"]),
        "intent_model": string(),
        "category": string(),
        "alternatives": array(obj({"intent": string(), "p": PROBABILITY})),
        "sentiment_label": string(enum=["negative", "neutral", "positive"]),
        "flags": array(FLAG),
        "confidence": PROBABILITY,
    },
    [
        "intent",
        "intent_confidence",
        "method",
        "sentiment",
        "sentiment_label",
        "risk",
        "language",
        "flags",
        "confidence",
    ],
    extra=True,
)
STRONGLY_NEGATIVE = -0.6


def _message(inputs: dict[str, Any]) -> str:
    return "\n".join(part for part in (inputs.get("subject", ""), inputs["text"]) if part)


def _predict_intent(text: str, model: IntentModel | None) -> IntentPrediction:
    return model.predict(text) if model else predict_with_rules(text)


def local_risk(text: str) -> tuple[str, float, list[dict[str, str]]]:
    """Risk, its confidence and flags from the lexicon, injection detector and profanity list.

    Runs on the whole text (injected sentences included) so nothing can hide a threat."""
    risk, flags = risk_flags(text)
    confidence = 0.9 if flags else 0.6
    flags += injection_flags(text)
    flags += [{**f, "severity": "medium"} for f in profanity_flags(text, who="The customer message")]
    if any(f["code"] in {"prompt_injection", "profanity"} for f in flags):
        risk = max_risk(risk, "medium")  # an injection attempt never lowers risk; it raises it
    return risk, confidence, flags


def _mood(text: str, clean: str) -> Sentiment:
    """Sentiment of the message; when it carries an injection attempt, the most negative reading
    of it, so text written at the AI cannot talk the case out of an upset-customer review."""
    if not injection_flags(text):
        return sentiment(clean)
    return sentiment_guarded(text, clean)


def analyse(
    inputs: dict[str, Any], *, model: IntentModel | None = None, use_active_model: bool = True
) -> dict[str, Any]:
    """Offline triage. Injected sentences are dropped before classification so they cannot steer routing."""
    if model is None and use_active_model:
        from hitl_crm.ai.selectors import intent_model_active

        model = intent_model_active()
    text = _message(inputs)
    clean = without_injection(text) or text
    prediction = _predict_intent(clean, model)
    mood = _mood(text, clean)
    language, language_confidence = detect_language(text)
    risk, risk_confidence, flags = local_risk(text)
    if mood.score <= STRONGLY_NEGATIVE and risk == "low":
        risk, risk_confidence = "medium", mood.confidence
    output: dict[str, Any] = {
        "intent": prediction.intent,
        "intent_confidence": prediction.confidence,
        "method": prediction.method,
        "intent_model": prediction.model,
        "category": prediction.category,
        "alternatives": prediction.alternatives,
        "sentiment": mood.score,
        "sentiment_label": mood.label,
        "sentiment_confidence": mood.confidence,
        "risk": risk,
        "risk_confidence": risk_confidence,
        "language": language,
        "language_confidence": language_confidence,
        "flags": flags,
        "confidence": prediction.confidence,
    }
    if prediction.matched:
        output["matched_keywords"] = prediction.matched
    return output


def offline(inputs: dict[str, Any]) -> dict[str, Any]:
    return analyse(inputs)


def build_prompt(inputs: dict[str, Any]) -> str:
    from hitl_crm.ai.selectors import intent_labels

    labels = ", ".join(intent_labels())
    instructions = (
        "Classify the customer message. intent: the single best label from this list: "
        f"{labels}. sentiment: -1 (furious) to 1 (delighted). risk: low, medium, high (legal threats, regulators, "
        "chargebacks) or critical (safety incidents, several threats at once). language: ISO 639-1 code. "
        "Give each a confidence between 0 and 1."
    )
    parts = [fence("customer_message", inputs["text"], subject=inputs.get("subject", ""))]
    return task_prompt(instructions, LLM_SCHEMA, *parts)


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Merge the model's answer with the local risk layer: the higher risk wins, flags are local.

    When the message carries an injection attempt the intent comes from the local classifier,
    which never sees the injected sentences, so the attempt cannot reroute the case."""
    text = _message(inputs)
    risk, risk_confidence, flags = local_risk(text)
    output = dict(raw)
    output.update(
        method="llm",
        intent_model="",
        category=raw.get("category", "") if isinstance(raw.get("category"), str) else "",
        alternatives=[],
        sentiment_label=label_for(float(raw["sentiment"])),
        flags=flags,
        risk=max_risk(raw["risk"], risk),
        risk_confidence=max(float(raw.get("risk_confidence", 0.5)), risk_confidence if flags else 0.0),
        language_confidence=float(raw.get("language_confidence", 0.5)),
        confidence=float(raw["intent_confidence"]),
    )
    if any(f["code"] == "prompt_injection" for f in flags):
        # The model read the injected text, so it may have been steered: sentiment and risk come
        # from the local layer, and the model's answer may only make them stricter.
        local = analyse(inputs)
        score = min(float(raw["sentiment"]), float(local["sentiment"]))
        output.update(
            sentiment=score,
            sentiment_label=label_for(score),
            sentiment_confidence=local["sentiment_confidence"],
            risk=max_risk(raw["risk"], local["risk"]),
            risk_confidence=local["risk_confidence"],
            intent=local["intent"],
            intent_confidence=local["intent_confidence"],
            method=local["method"],
            intent_model=local["intent_model"],
            category=local["category"],
            alternatives=local["alternatives"],
            confidence=local["confidence"],
        )
    return output


SKILL = Skill(
    name="triage",
    description="Intent, sentiment (-1..1), risk (low..critical) and language of a customer message, with confidences.",
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version="triage@1",
    offline_version="triage-offline@1",
    offline=offline,
    build_prompt=build_prompt,
    finalize=finalize,
)

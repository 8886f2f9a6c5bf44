"""A tiny validator for the subset of JSON Schema the skills use.

Supported keywords: ``type`` (a name or a list of names), ``properties``, ``required``,
``additionalProperties`` (bool), ``items``, ``enum``, ``minimum``, ``maximum``,
``minLength``, ``maxLength``, ``minItems``, ``maxItems``. That is all a skill needs
to say what it accepts and what a language model must return, and it avoids a
dependency. Errors name the path of the offending field (``$.knowledge[0].id``).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in {"integer", "number"}:
        return False  # bool is an int subclass; JSON does not think so
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: Schema, path: str = "$") -> list[str]:
    """Return a list of human-readable problems; an empty list means ``value`` is valid."""
    errors: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(value, name) for name in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {', '.join(map(repr, schema['enum']))}"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: must have at most {schema['maxLength']} characters")
    if isinstance(value, dict):
        properties: dict[str, Schema] = schema.get("properties", {})
        errors.extend(f"{path}.{name}: is required" for name in schema.get("required", []) if name not in value)
        if schema.get("additionalProperties") is False:
            errors.extend(f"{path}.{name}: is not an allowed field" for name in value if name not in properties)
        for name, sub in properties.items():
            if name in value:
                errors.extend(validate(value[name], sub, f"{path}.{name}"))
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: must have at most {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                errors.extend(validate(item, schema["items"], f"{path}[{index}]"))
    return errors


# Small constructors keep the skill schemas readable.
def string(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def number(**extra: Any) -> Schema:
    return {"type": "number", **extra}


def integer(**extra: Any) -> Schema:
    return {"type": "integer", **extra}


def boolean() -> Schema:
    return {"type": "boolean"}


def nullable(schema: Schema) -> Schema:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, extra: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "required": required or []}
    if not extra:
        schema["additionalProperties"] = False
    return schema


PROBABILITY = number(minimum=0, maximum=1)
FLAG = obj(
    {
        "code": string(),
        "message": string(),
        "span": string(),
        "severity": string(enum=["low", "medium", "high"]),
    },
    ["code", "message", "span", "severity"],
)
RISK = string(enum=["low", "medium", "high", "critical"])


# --- bounds on what a skill may return ---------------------------------------------------------
#
# A skill's output schema says what shape it has; these bounds say how big each part may be,
# whatever the backend (an LLM can return a 300-character "intent" or a 90,000-character draft).
# The engine checks them before anything uses the output: an output out of bounds is an
# ``invalid`` run with the reason, never silently cut. The sizes are the contract callers build
# on (an intent label fits an 80-character column, a reply body the 20,000 characters an
# approval accepts).

#: Any string anywhere in an output (raw model text kept for reviewers excepted).
MAX_OUTPUT_TEXT = 50_000
#: Any list anywhere in an output.
MAX_OUTPUT_ITEMS = 500
#: Labels: intents, categories, model names.
MAX_LABEL = 80
#: A draft a person reviews and, once approved, sends.
MAX_DRAFT_BODY = 20_000
#: Flags are display-only: their message and span are clipped to these (documented, not an error).
MAX_FLAG_MESSAGE = 500
MAX_FLAG_SPAN = 200

_DRAFT_BOUNDS = obj({"body": string(minLength=1, maxLength=MAX_DRAFT_BODY)}, extra=True)
OUTPUT_BOUNDS: dict[str, Schema] = {
    "triage": obj(
        {
            "intent": string(minLength=1, maxLength=MAX_LABEL),
            "category": string(maxLength=MAX_LABEL),
            "intent_model": string(maxLength=100),
            "language": string(minLength=2, maxLength=8),
            "sentiment": number(minimum=-1, maximum=1),
            "risk": RISK,
            "confidence": PROBABILITY,
        },
        extra=True,
    ),
    "draft_reply": _DRAFT_BOUNDS,
    "draft_followup": _DRAFT_BOUNDS,
    "summarize": obj({"summary": string(maxLength=10_000), "confidence": PROBABILITY}, extra=True),
}


def _size_errors(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [f"{path}: must have at most {MAX_OUTPUT_TEXT} characters"] if len(value) > MAX_OUTPUT_TEXT else []
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in _size_errors(item, f"{path}.{key}")]
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_OUTPUT_ITEMS:
            return [f"{path}: must have at most {MAX_OUTPUT_ITEMS} items"]
        return [e for index, item in enumerate(value) for e in _size_errors(item, f"{path}[{index}]")]
    return []


def bounds_errors(skill: str, output: Any) -> list[str]:
    """What is out of bounds in ``skill``'s ``output``: the skill's own bounds, then a size cap on
    every string and list. An empty list means the output may be used."""
    errors = validate(output, OUTPUT_BOUNDS[skill]) if skill in OUTPUT_BOUNDS else []
    return errors + _size_errors(output, "$")


def clip_flag(item: dict[str, Any]) -> dict[str, Any]:
    """A flag with its display-only message and span clipped (a flag is read, never stored in a column)."""
    out = dict(item)
    for key, limit in (("message", MAX_FLAG_MESSAGE), ("span", MAX_FLAG_SPAN)):
        text = out.get(key)
        if isinstance(text, str) and len(text) > limit:
            out[key] = text[: limit - 1] + "…"
    return out

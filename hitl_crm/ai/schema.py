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

"""OpenAPI additions: one ``Error`` component and the error answers every operation can give.

Every API error has the shape of ``hitl_crm.api.errors``: ``{"detail": "…"}``, and for a 400
also ``"errors": [{"field", "message", "code"}]``. The postprocessing hook documents 400, 401,
403, 404, 409 and 429 on each operation (keeping any response a view declared itself).

Request bodies are documented as JSON only (form encodings cannot express ``null``, lists or
nested objects); an upload (a ``binary`` field) is documented as ``multipart/form-data`` only.
"""

from __future__ import annotations

import json
from typing import Any

ERROR_STATUSES: dict[str, str] = {
    "400": "Invalid input: `errors` names each field and the reason.",
    "401": "Not signed in: send `Authorization: Token <key>` or use a session.",
    "403": "Signed in, but without the permission this needs.",
    "404": "No such object, or it is not shared with you.",
    "409": "The object changed or is in a state that does not allow this.",
    "429": "Too many requests: wait for the seconds in `Retry-After`.",
}

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ErrorItem": {
        "type": "object",
        "properties": {
            "field": {"type": "string", "description": "Path of the field, e.g. `attributes.note` or `[2].lead`."},
            "message": {"type": "string"},
            "code": {"type": "string", "description": "Machine-readable reason, e.g. `required`, `invalid`."},
        },
        "required": ["field", "message", "code"],
    },
    "Error": {
        "type": "object",
        "properties": {
            "detail": {"type": "string", "description": "What went wrong, in one sentence."},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}},
        },
        "required": ["detail"],
    },
}

_METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}


def error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the ``Error`` component and error statuses on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ERROR_SCHEMAS.items():
        schemas.setdefault(name, schema)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            _one_request_encoding(operation, schemas)
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, error_response(description))
            if "429" in responses and "headers" not in responses["429"]:
                responses["429"]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                }
    return result


def _one_request_encoding(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    if len(content) < 2:
        return

    def uploads(media: dict[str, Any]) -> bool:
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            schema = schemas.get(ref.rsplit("/", 1)[1], {})
        return '"format": "binary"' in json.dumps(schema)

    keep = "multipart/form-data" if any(uploads(m) for m in content.values()) else "application/json"
    if keep in content:
        operation["requestBody"]["content"] = {keep: content[keep]}

"""One way to read validation errors, whatever raised them.

Forms (``form.errors``), DRF serializers (``serializer.errors``, nested dicts and lists of
``ErrorDetail``) and Django's ``ValidationError`` (with a dict or a list) all become the same
flat items: a field path (``email``, ``lines[0].amount``, ``non_field_errors`` when no field is
named), the message written for the person, and a code. The API error list, the
``{"field": "message"}`` mappings of the services and the message lists of the pages are made
from these items.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError

NON_FIELD = "non_field_errors"


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One message about one field (``field`` is a dotted path; ``non_field_errors`` for the whole)."""

    field: str
    message: str
    code: str = "invalid"


def _field(key: Any, prefix: str) -> str:
    if isinstance(key, int):  # DRF reports list items by index: ``{"lines": {1: {...}}}``
        return f"{prefix}[{key}]"
    key = NON_FIELD if key == NON_FIELD_ERRORS else str(key)
    return f"{prefix}.{key}" if prefix else key


def _leaf(value: Any, prefix: str) -> ErrorItem:
    return ErrorItem(prefix or NON_FIELD, str(value), getattr(value, "code", None) or "invalid")


def _walk(errors: Any, prefix: str) -> Iterator[ErrorItem]:
    if isinstance(errors, DjangoValidationError):
        if hasattr(errors, "error_dict"):
            yield from _walk(errors.error_dict, prefix)
        elif hasattr(errors, "error_list") and not (len(errors.error_list) == 1 and errors.error_list[0] is errors):
            yield from _walk(errors.error_list, prefix)
        else:
            message = errors.message % errors.params if errors.params else errors.message
            yield ErrorItem(prefix or NON_FIELD, str(message), errors.code or "invalid")
        return
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            yield from _walk(value, _field(key, prefix))
        return
    if isinstance(errors, list | tuple):
        if all(isinstance(item, str | DjangoValidationError) for item in errors):
            for item in errors:
                yield from _walk(item, prefix) if isinstance(item, DjangoValidationError) else [_leaf(item, prefix)]
            return
        for index, item in enumerate(errors):
            yield from _walk(item, f"{prefix}[{index}]")
        return
    yield _leaf(errors, prefix)


def error_items(errors: Any) -> list[ErrorItem]:
    """Every message of ``errors`` (form/serializer errors or a ``ValidationError``), in order."""
    return list(_walk(errors, ""))


def flatten_errors(errors: Any) -> dict[str, str]:
    """``{"field": "first message"}``: the shape the services' ``InvalidInput`` errors carry."""
    out: dict[str, str] = {}
    for item in error_items(errors):
        out.setdefault(item.field, item.message)
    return out


def error_messages(errors: Any) -> list[str]:
    """Just the messages, for a page that lists what went wrong."""
    return [item.message for item in error_items(errors)]

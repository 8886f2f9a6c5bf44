"""Request parsers that refuse text PostgreSQL cannot store.

PostgreSQL rejects the NUL character (U+0000) in ``text`` and ``jsonb`` values; a body
carrying one would fail deep inside a service with a database error. The parsers look at
every string and every object key of a parsed body and answer 400 naming the first field
that holds one, in the API's error format (``"errors": [{"field": "attributes.note", …}]``).
Uploaded files are left alone: a CSV may contain anything, and its reader reports bad rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ValidationError

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict  # a stub-only name: QueryDict(mutable=False)
    from django.utils.datastructures import MultiValueDict

NUL = "\x00"
NUL_MESSAGE = "Text may not contain the NUL character (\\u0000)."
NUL_CODE = "null_characters_not_allowed"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _nul_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Paths (``a.b[2].c``) of the strings or keys in ``value`` that contain NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield prefix or "non_field_errors"
    elif isinstance(value, QueryDict):
        for key, items in value.lists():
            if NUL in key:
                yield _join(prefix, key.replace(NUL, "\\u0000"))
            for item in items:
                yield from _nul_paths(item, _join(prefix, key))
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if NUL in key:
                yield _join(prefix, key.replace(NUL, "\\u0000"))
            yield from _nul_paths(item, _join(prefix, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{prefix}[{index}]")


def reject_nul(data: Any) -> None:
    """Raise a 400 ``ValidationError`` naming the first field of ``data`` that holds a NUL character."""
    path = next(_nul_paths(data), None)
    if path is not None:
        raise ValidationError({path: [NUL_MESSAGE]}, code=NUL_CODE)


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        data = super().parse(stream, media_type, parser_context)
        reject_nul(data)
        return data


class FormParser(parsers.FormParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> _ImmutableQueryDict:
        data = super().parse(stream, media_type, parser_context)
        reject_nul(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> parsers.DataAndFiles[_ImmutableQueryDict, MultiValueDict]:
        result = super().parse(stream, media_type, parser_context)
        reject_nul(result.data)
        return result

"""Tags: short labels a team puts on leads, contacts, accounts and cases.

One idea, kept once: a record's tags are a JSON list of lower-case words (``["vip", "school"]``),
stored in a :class:`TagsField` so SQLite and PostgreSQL behave alike, typed by people as one
comma-separated line (:class:`TagsFormField`) and read back through :func:`normalize_tags`.

    >>> normalize_tags(" VIP, school ,, vip ")
    ['vip', 'school']

A tag is 1–30 characters of letters, digits, spaces, ``-`` or ``_``; a record has at most
:data:`MAX_TAGS` of them. Anything else is a ``ValidationError`` that names the tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

MAX_TAGS = 12
MAX_TAG_LENGTH = 30
_TAG = re.compile(r"^[\w][\w \-]*$")


def normalize_tags(raw: str | Iterable[str] | None) -> list[str]:
    """Split, trim, lower-case and de-duplicate tags (first spelling wins, order kept)."""
    if raw is None:
        return []
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for part in parts:
        tag = " ".join(str(part).split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationError(f"The tag “{tag[:40]}” is longer than {MAX_TAG_LENGTH} characters.")
        if not _TAG.match(tag):
            raise ValidationError(f"The tag “{tag}” may hold only letters, digits, spaces, - and _.")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"At most {MAX_TAGS} tags, not {len(tags)}.")
    return tags


def tags_text(tags: Iterable[str] | None) -> str:
    """The tags as the one line people type: ``"vip, school"``."""
    return ", ".join(tags or [])


class TagsField(models.JSONField):
    """A list of normalised tags (``[]`` by default); validated on ``full_clean``."""

    description = "A list of short tags"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def validate(self, value: Any, model_instance: Any) -> None:
        super().validate(value, model_instance)
        if not isinstance(value, list) or normalize_tags(value) != value:
            raise ValidationError("Tags must be a list of normalised tags.", code="invalid")

    def formfield(self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any) -> forms.Field | None:
        return TagsFormField(required=not self.blank, label=str(self.verbose_name).capitalize())


class TagsFormField(forms.CharField):
    """One comma-separated line in, a normalised list out."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", (MAX_TAG_LENGTH + 2) * MAX_TAGS)
        kwargs.setdefault("help_text", "Comma-separated, e.g. vip, school")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return tags_text(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return normalize_tags(value)
        return normalize_tags(super().to_python(value))

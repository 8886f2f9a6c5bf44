"""Shared list filters: query parameters PostgreSQL cannot take answer 400 naming the parameter.

- ``IsoDateTimeFilter`` (use it for every ``updated_since``/``since`` parameter): an ISO 8601
  date-time whose UTC offset is 16 hours or more (``+23:00``) is a 400; PostgreSQL refuses such
  an offset ("time zone displacement out of range"), real time zones stay within ±14 hours.
- ``SearchFilter`` (the default search backend): a ``search`` term with a NUL character is a 400.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from rest_framework import filters as drf_filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from hitl_crm.api.parsers import NUL, NUL_CODE, NUL_MESSAGE

# PostgreSQL's limit for a time zone displacement (exclusive).
MAX_UTC_OFFSET = timedelta(hours=16)
OFFSET_MESSAGE = "Use a UTC offset between -15:59 and +15:59, e.g. 2026-01-01T09:00:00+02:00."


def check_utc_offset(value: datetime | None) -> datetime | None:
    """Raise a form ``ValidationError`` when ``value``'s UTC offset is out of PostgreSQL's range."""
    offset = value.utcoffset() if value is not None else None
    if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
        raise forms.ValidationError(OFFSET_MESSAGE, code="invalid")
    return value


class IsoDateTimeField(filter_fields.IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        return check_utc_offset(super().to_python(value))


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """``?updated_since=2026-01-01T00:00:00Z``: ISO 8601, with a UTC offset PostgreSQL can store."""

    field_class = IsoDateTimeField


class SearchFilter(drf_filters.SearchFilter):
    def get_search_terms(self, request: Request) -> list[str]:
        if NUL in request.query_params.get(self.search_param, ""):
            raise ValidationError({self.search_param: [NUL_MESSAGE]}, code=NUL_CODE)
        return super().get_search_terms(request)

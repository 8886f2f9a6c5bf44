"""Keyset ("cursor") pagination, the one helper every HTML list that can grow uses (the inbox, leads,
contacts): no OFFSET, so the 200th page costs what the first does, and a capped count instead of
counting every match.

A list is ordered by ``SortKey``\\s whose last key is unique (the id), so the order is total. A page
ends in a cursor, the sort values of its last (``after``) or first (``before``) row, plus a ``stamp``
the caller needs to rebuild the same keys (the inbox's "now", which decides what is overdue). The
cursor is opaque to people (URL-safe base64 of JSON) and checked on the way in: a cursor that does not
fit the keys is ignored and the first page is shown.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import BigIntegerField, DateTimeField, F, Field, Model, Q, QuerySet, TextField, Value
from django.db.models.expressions import OrderBy
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.dateparse import parse_datetime

COUNT_CAP = 1000

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class SortKey:
    """One term of a list's order. ``name`` is the model field it reads, or the annotation it adds;
    ``nullable`` keys sort their NULLs last; ``kind`` ("int", "str" or "datetime") says how a cursor
    stores its value."""

    name: str
    expression: Any
    descending: bool = False
    nullable: bool = False
    kind: str = "int"

    @property
    def is_field(self) -> bool:
        return isinstance(self.expression, F) and self.expression.name == self.name

    def order_by(self, *, reverse: bool = False) -> OrderBy:
        nulls: dict[str, bool] = {}
        if self.nullable:
            nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        return OrderBy(self.expression, descending=self.descending != reverse, **nulls)

    def load(self, raw: Any) -> Any:
        if raw is None:
            if not self.nullable:
                raise ValueError(self.name)
            return None
        if self.kind == "datetime":
            value = parse_datetime(raw) if isinstance(raw, str) else None
            if value is None:
                raise ValueError(self.name)
            return value
        if self.kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if self.kind == "str" and isinstance(raw, str):
            return raw
        raise ValueError(self.name)


@dataclass
class KeysetPage(Generic[M]):
    object_list: list[M]
    count: int  # matches, at most ``COUNT_CAP`` (then ``count_capped``)
    count_capped: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    stamp: str = field(default="")

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_cursor)

    @property
    def count_label(self) -> str:
        """ "1,000+" when there are more matches than were counted, else the exact number."""
        return f"{self.count:,}+" if self.count_capped else f"{self.count:,}"


def cursor_encode(stamp: str, values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps([stamp, plain], separators=(",", ":")).encode()).decode().rstrip("=")


def cursor_decode(token: str) -> tuple[str, list[Any]] | None:
    """``(stamp, raw values)`` of a cursor, or None for anything that is not one."""
    if not token or len(token) > 1000:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], str) and isinstance(data[1], list)):
        return None
    return data[0], data[1]


def _beyond(keys: list[SortKey], values: list[Any], *, reverse: bool) -> Q:
    """Rows strictly after ``values`` in the keys' order (before them when ``reverse``)."""
    disjuncts: list[Q] = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        descending = key.descending != reverse
        nulls_first = key.nullable and reverse  # forwards NULLs come last, so backwards they come first
        if value is None:
            strict = Q(**{f"{key.name}__isnull": False}) if nulls_first else None
            same = Q(**{f"{key.name}__isnull": True})
        else:
            strict = Q(**{f"{key.name}__{'lt' if descending else 'gt'}": value})
            if key.nullable and not reverse:
                strict |= Q(**{f"{key.name}__isnull": True})
            same = Q(**{key.name: value})
        if strict is not None:
            disjuncts.append(equal & strict)
        equal &= same
    result = Q(pk__in=[])
    for term in disjuncts:
        result |= term
    return result


#: How a cursor value of each ``SortKey.kind`` goes into SQL (a datetime as the database stores one).
_FIELDS: dict[str, type[Field]] = {"int": BigIntegerField, "str": TextField, "datetime": DateTimeField}


def _uniform(keys: list[SortKey]) -> bool:
    """Whether the keys sort one way with no NULLs: then "past the cursor" is one row comparison."""
    return not any(key.nullable for key in keys) and len({key.descending for key in keys}) == 1


def keyset_page(
    qs: QuerySet[M],
    keys: list[SortKey],
    *,
    per_page: int,
    stamp: str = "",
    after: list[Any] | None = None,
    before: list[Any] | None = None,
    count_cap: int | None = None,
) -> KeysetPage[M]:
    """A page of ``qs`` in ``keys`` order after (or before) a cursor's raw values; two queries: the
    capped count and the page. The page's rows are found on ``qs``'s own table first and joined
    (``select_related``) for those rows only — a deferred join inside one query.

    Raw values that do not fit ``keys`` are ignored (the first page)."""
    count_cap = COUNT_CAP if count_cap is None else count_cap
    raw, reverse = (before, True) if before is not None else (after, False)
    values: list[Any] | None = None
    if raw is not None and len(raw) == len(keys):
        try:
            values = [key.load(v) for key, v in zip(keys, raw, strict=True)]
        except ValueError:
            values = None
    if values is None:
        reverse = False
    annotations = {key.name: key.expression for key in keys if not key.is_field}
    counted = qs.order_by().values("pk")[: count_cap + 1].count()
    found = qs.annotate(**annotations) if annotations else qs
    if values is not None:
        found = found.filter(_beyond(keys, values, reverse=reverse))
        if _uniform(keys):
            # The same rows as a row comparison ``(k1, k2, …) > (v1, v2, …)``, which PostgreSQL takes
            # as an index condition: the scan starts at the cursor instead of reading every row before
            # it, so a deep page costs what the first does (the OR form above alone does not).
            later = keys[0].descending == reverse
            lookup = TupleGreaterThan if later else TupleLessThan
            typed = [Value(value, output_field=_FIELDS[key.kind]()) for key, value in zip(keys, values, strict=True)]
            found = found.filter(lookup(Tuple(*(key.expression for key in keys)), typed))
    window = found.order_by(*(key.order_by(reverse=reverse) for key in keys)).values("pk")[: per_page + 1]
    rows_qs = qs.model._default_manager.filter(pk__in=window)
    if annotations:
        rows_qs = rows_qs.annotate(**annotations)
    rows_qs = rows_qs.order_by(*(key.order_by() for key in keys))
    rows_qs.query.select_related = qs.query.select_related
    rows = list(rows_qs)
    more = len(rows) > per_page
    if reverse:
        if len(rows) < per_page and not more:  # back at the start (or rows went away): the first page
            return keyset_page(qs, keys, per_page=per_page, stamp=stamp, count_cap=count_cap)
        rows = rows[-per_page:] if more else rows
    else:
        rows = rows[:per_page]

    def cursor(row: M) -> str:
        return cursor_encode(stamp, [getattr(row, key.name) for key in keys])

    has_next = (more and not reverse) or (reverse and bool(rows))
    has_previous = (more and reverse) or (not reverse and values is not None and bool(rows))
    return KeysetPage(
        object_list=rows,
        count=min(counted, count_cap),
        count_capped=counted > count_cap,
        next_cursor=cursor(rows[-1]) if has_next else "",
        previous_cursor=cursor(rows[0]) if has_previous else "",
        stamp=stamp,
    )

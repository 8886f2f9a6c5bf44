"""The facts scores are computed from, loaded for many leads at once.

A *feature* is one input of the learned model and one thing a rule can test:

- a lead field (``source``, ``employees``, …),
- a custom attribute (``attributes["Lead Origin"]``),
- an engagement figure computed from the lead's events (site visits in 30 days, purchases,
  days since the last engagement, …);
- a *cross* of two categorical fields or attributes (``Lead Origin × Lead Source``), one
  category per combination, so a linear model can learn that a pair converts differently
  from what its parts suggest.

Engagement is counted *as of* a reference time: now for open leads, the moment it was won
or lost for closed ones — so a model trained on closed leads never sees the purchase that
followed the win, and a closed lead's score is the one it had when it closed.

:func:`load_batch` reads a batch of leads with one query for the rows and one aggregate
query for their events, and returns plain columns for numpy.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    Expression,
    ExpressionWrapper,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from leads.conf import app_settings
from leads.models import Lead, LeadEvent

T = TypeVar("T")
Column = Sequence[Any] | np.ndarray
"""One feature's values for every lead of a batch: a list, or a numpy array for engagement figures."""
CATEGORICAL = "categorical"
NUMERIC = "numeric"
CROSS = "cross"
CROSS_SEPARATOR = " × "


@dataclass(frozen=True)
class EventAggregate:
    """A number computed from a lead's engagement events, as of its reference time."""

    kind: str  # an engagement kind, or "any"
    days: int | None = None  # look back this far; None = all time
    agg: str = "count"  # count | sum (of amount) | days_since (the last one)
    match: tuple[tuple[str, str], ...] = ()  # event data must contain these (case-insensitive)


@dataclass(frozen=True)
class Feature:
    """One model input. ``source`` is field, attribute or engagement; ``key`` names it there."""

    name: str
    source: str
    key: str
    kind: str
    label: str
    zero_label: str = ""  # numeric value 0, in words ("No site visit in 30 days")
    missing_label: str = ""  # no value, in words ("Never engaged")

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__ if k in data})


FIELD_FEATURES: dict[str, Feature] = {
    f.name: f
    for f in [
        Feature("source", "field", "source", CATEGORICAL, "Lead source", missing_label="No lead source"),
        Feature("industry", "field", "industry", CATEGORICAL, "Industry", missing_label="No industry given"),
        Feature("country", "field", "country", CATEGORICAL, "Country", missing_label="No country given"),
        Feature("title", "field", "title", CATEGORICAL, "Job title", missing_label="No job title"),
        Feature("do_not_email", "field", "do_not_email", CATEGORICAL, "Do not email"),
        Feature("employees", "field", "employees", NUMERIC, "Employees", missing_label="Company size unknown"),
        Feature(
            "estimated_value",
            "field",
            "estimated_value",
            NUMERIC,
            "Estimated value",
            missing_label="No estimated value",
        ),
    ]
}

ENGAGEMENT: dict[str, EventAggregate] = {
    "email_opened_30d": EventAggregate(LeadEvent.Kind.EMAIL_OPENED, 30),
    "email_clicked_30d": EventAggregate(LeadEvent.Kind.EMAIL_CLICKED, 30),
    "site_visits_30d": EventAggregate(LeadEvent.Kind.SITE_VISIT, 30),
    "forms_90d": EventAggregate(LeadEvent.Kind.FORM, 90),
    "meetings_90d": EventAggregate(LeadEvent.Kind.MEETING, 90),
    "purchases": EventAggregate(LeadEvent.Kind.PURCHASE),
    "purchase_amount": EventAggregate(LeadEvent.Kind.PURCHASE, agg="sum"),
    "days_since_engagement": EventAggregate("any", agg="days_since"),
}
ENGAGEMENT_FEATURES: dict[str, Feature] = {
    f.name: f
    for f in [
        Feature(
            "email_opened_30d",
            "engagement",
            "email_opened_30d",
            NUMERIC,
            "Emails opened in 30 days",
            zero_label="No email opened in 30 days",
        ),
        Feature(
            "email_clicked_30d",
            "engagement",
            "email_clicked_30d",
            NUMERIC,
            "Email links clicked in 30 days",
            zero_label="No email link clicked in 30 days",
        ),
        Feature(
            "site_visits_30d",
            "engagement",
            "site_visits_30d",
            NUMERIC,
            "Site visits in 30 days",
            zero_label="No site visit in 30 days",
        ),
        Feature(
            "forms_90d",
            "engagement",
            "forms_90d",
            NUMERIC,
            "Forms submitted in 90 days",
            zero_label="No form submitted in 90 days",
        ),
        Feature(
            "meetings_90d",
            "engagement",
            "meetings_90d",
            NUMERIC,
            "Meetings in 90 days",
            zero_label="No meeting in 90 days",
        ),
        Feature("purchases", "engagement", "purchases", NUMERIC, "Past purchases", zero_label="No past purchase"),
        Feature(
            "purchase_amount",
            "engagement",
            "purchase_amount",
            NUMERIC,
            "Total purchased",
            zero_label="Nothing purchased yet",
        ),
        Feature(
            "days_since_engagement",
            "engagement",
            "days_since_engagement",
            NUMERIC,
            "Days since last engagement",
            zero_label="Engaged in the last day",
            missing_label="Never engaged",
        ),
    ]
}

#: What a new model uses when nobody chose: the core fields and every engagement figure.
DEFAULT_FEATURE_NAMES = ("source", "industry", "country", "employees", "estimated_value", *ENGAGEMENT_FEATURES)

#: Fields a rule may test (besides the features above).
RULE_FIELDS = (
    "source",
    "industry",
    "country",
    "title",
    "company",
    "status",
    "employees",
    "estimated_value",
    "do_not_email",
    "email",
    "phone",
)


def attribute_feature(key: str, kind: str) -> Feature:
    return Feature(f"attr:{key}", "attribute", key, kind, key, missing_label=f"No {key} given")


def cross_feature(first: Feature, second: Feature) -> Feature:
    """The categorical feature "``first`` × ``second``" (two categorical fields or attributes)."""
    for part in (first, second):
        if part.kind != CATEGORICAL or part.source not in {"field", "attribute"}:
            raise ValueError(f"Only categorical fields and attributes can be crossed, not {part.label!r}.")
    key = json.dumps([[first.source, first.key], [second.source, second.key]], ensure_ascii=False)
    return Feature(
        f"cross:{first.name}|{second.name}",
        CROSS,
        key,
        CATEGORICAL,
        f"{first.label}{CROSS_SEPARATOR}{second.label}",
        missing_label=f"No {first.label.lower()} nor {second.label.lower()} given",
    )


def cross_parts(feature: Feature) -> list[Feature]:
    """The two features a cross reads (only their source and key matter)."""
    return [Feature(f"{source}:{key}", source, key, CATEGORICAL, key) for source, key in json.loads(feature.key)]


def default_features() -> list[Feature]:
    configured = app_settings.MODEL_FEATURES
    if configured:
        return [Feature.from_dict(d) for d in configured]
    catalogue = {**FIELD_FEATURES, **ENGAGEMENT_FEATURES}
    return [catalogue[name] for name in DEFAULT_FEATURE_NAMES]


def is_missing(value: Any, missing: frozenset[str] | None = None) -> bool:
    """None, NaN, or text meaning "not given" (``MISSING_VALUES``; pass them in when calling in a loop)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return value.strip().lower() in (app_settings.MISSING_VALUES if missing is None else missing)
    return False


def to_number(value: Any) -> float:
    """A float for numbers and numeric text ("1,532", "$1,200.50", "12%"); NaN otherwise."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").lstrip("$€£").rstrip("%").strip()
        if not text:
            return math.nan
        try:
            number = float(text)
        except ValueError:
            return math.nan
        return number if math.isfinite(number) else math.nan
    return math.nan


def per_distinct_value(fn: Callable[[Any], T]) -> Callable[[Any], T]:
    """``fn`` computed once per distinct value (lead fields repeat a lot: a source, a count of visits).

    The key includes the type (``True`` and ``1`` are equal keys but not equal categories);
    unhashable values (a list in an attribute) are computed every time.
    """
    cache: dict[tuple[type, Any], T] = {}

    def call(value: Any) -> T:
        key = (value.__class__, value)
        try:
            return cache[key]
        except KeyError:
            result = cache[key] = fn(value)
            return result
        except TypeError:
            return fn(value)

    return call


def infer_kind(values: Iterable[Any]) -> str:
    """numeric when (almost) every given value is a number, else categorical."""
    missing = app_settings.MISSING_VALUES
    given = [v for v in values if not is_missing(v, missing)]
    if not given:
        return CATEGORICAL
    numeric = sum(not math.isnan(to_number(v)) for v in given)
    return NUMERIC if numeric >= 0.95 * len(given) else CATEGORICAL


def attribute_catalogue(*, sample: int = 2000) -> list[tuple[str, str, int]]:
    """Custom attribute keys seen on recent leads: ``[(key, kind, leads with it), …]``, most common first."""
    rows = list(Lead.objects.order_by("-id").values_list("attributes", flat=True)[:sample])
    values: dict[str, list[Any]] = {}
    for attrs in rows:
        for key, value in (attrs or {}).items():
            values.setdefault(key, []).append(value)
    return sorted(
        ((key, infer_kind(vals), len(vals)) for key, vals in values.items()), key=lambda item: (-item[2], item[0])
    )


def available_features() -> list[Feature]:
    """Everything a manager can choose from for a model: fields, engagement, seen attributes."""
    return [
        *FIELD_FEATURES.values(),
        *ENGAGEMENT_FEATURES.values(),
        *(attribute_feature(key, kind) for key, kind, _ in attribute_catalogue()),
    ]


# --- loading -----------------------------------------------------------------------------------


@dataclass
class Batch:
    """Columns of one batch of leads, in id order."""

    ids: np.ndarray
    now: datetime
    status: list[str]
    closed_at: list[datetime | None]
    override: list[int | None]
    previous: list[tuple[int | None, str]]
    fields: dict[str, list[Any]] = field(default_factory=dict)
    attributes: list[dict[str, Any]] | None = None
    events: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def values(self, feature: Feature) -> Column:
        if feature.source == "field":
            return self.fields[feature.key]
        if feature.source == "attribute":
            assert self.attributes is not None, "batch loaded without attributes"
            return [attrs.get(feature.key) if attrs else None for attrs in self.attributes]
        if feature.source == "engagement":
            return self.events[feature.key]
        if feature.source == CROSS:
            missing = app_settings.MISSING_VALUES
            columns = [self.values(part) for part in cross_parts(feature)]

            def pair(values: tuple[Any, ...]) -> str | None:
                given = [not is_missing(v, missing) for v in values]
                if not any(given):
                    return None
                return CROSS_SEPARATOR.join(
                    " ".join(str(v).split()) if ok else "(none)" for v, ok in zip(values, given, strict=True)
                )

            return [pair(values) for values in zip(*columns, strict=True)]
        raise ValueError(f"Unknown feature source {feature.source!r}")


def _ids_filter(ids: Sequence[int], prefix: str = "") -> Q:
    """A range when the ids are dense (cheap to plan), a list when they are sparse."""
    lo, hi = int(min(ids)), int(max(ids))
    if len(ids) >= (hi - lo + 1) / 2:
        return Q(**{f"{prefix}id__gte": lo, f"{prefix}id__lte": hi})
    return Q(**{f"{prefix}id__in": list(ids)})


def _event_query(where: Q, specs: dict[str, EventAggregate], ref: Expression) -> QuerySet[LeadEvent, tuple[Any, ...]]:
    """One grouped query: every aggregate of ``specs`` per lead, for events up to ``ref``."""
    annotations: dict[str, Aggregate] = {}
    for index, spec in enumerate(specs.values()):
        cond = Q()
        if spec.kind != "any":
            cond &= Q(kind=spec.kind)
        if spec.days:
            since = ExpressionWrapper(ref - Value(timedelta(days=spec.days)), output_field=DateTimeField())
            cond &= Q(occurred_at__gte=since)
        for key, needle in spec.match:
            cond &= Q(**{f"data__{key}__icontains": needle})
        alias = f"a{index}"
        if spec.agg == "sum":
            annotations[alias] = Sum("amount", filter=cond) if cond else Sum("amount")
        elif spec.agg == "days_since":
            annotations[alias] = Max("occurred_at", filter=cond) if cond else Max("occurred_at")
        else:
            annotations[alias] = Count("id", filter=cond) if cond else Count("id")
    return (
        LeadEvent.objects.filter(where, kind__in=LeadEvent.ENGAGEMENT, occurred_at__lte=ref)
        .values("lead_id")
        .annotate(**annotations)
        .values_list("lead_id", *annotations)
        .order_by()
    )


def aggregate_events(
    ids: Sequence[int], specs: dict[str, EventAggregate], *, now: datetime, closed_at: dict[int, datetime | None]
) -> dict[str, dict[int, float]]:
    """``{name: {lead_id: value}}`` for leads with at least one engagement event.

    Open leads are counted as of ``now`` in one query without a join; the (few) closed ones
    as of their own closing time in a second query that joins the lead for it.
    """
    out: dict[str, dict[int, float]] = {name: {} for name in specs}
    if not ids or not specs:
        return out
    closed = [i for i in ids if closed_at.get(i) is not None]
    queries = [_event_query(_ids_filter(ids, "lead_"), specs, Value(now, output_field=DateTimeField()))]
    if closed:
        ref = Coalesce(F("lead__closed_at"), Value(now, output_field=DateTimeField()))
        queries.append(_event_query(Q(lead_id__in=closed), specs, ref))
    names = list(specs)
    days_since = [specs[name].agg == "days_since" for name in names]
    wanted = set(ids)
    closed_set = set(closed)
    for number, rows in enumerate(queries):
        for row in rows:
            lead_id = row[0]
            if lead_id not in wanted or (number == 0 and lead_id in closed_set):
                continue  # the first query counted closed leads as of now: the second one is right
            for index, name in enumerate(names):
                value = row[index + 1]
                if value is None:
                    continue
                if days_since[index]:
                    reference = closed_at.get(lead_id) or now
                    out[name][lead_id] = float(max(0, (reference - value).days))
                else:
                    out[name][lead_id] = float(value)
    return out


def event_columns(
    ids: np.ndarray, specs: dict[str, EventAggregate], *, now: datetime, closed_at: list[datetime | None]
) -> dict[str, np.ndarray]:
    """Engagement figures as float arrays aligned with ``ids`` (0 without events; NaN for "days since")."""
    id_list = ids.tolist()
    closed = dict(zip(id_list, closed_at, strict=True))
    found = aggregate_events(id_list, specs, now=now, closed_at=closed)
    columns = {}
    for name, spec in specs.items():
        default = math.nan if spec.agg == "days_since" else 0.0
        values = found[name]
        columns[name] = np.fromiter((values.get(i, default) for i in id_list), dtype=float, count=len(id_list))
    return columns


def load_batch(
    ids: Sequence[int],
    *,
    fields: Iterable[str] = (),
    attributes: bool = False,
    events: dict[str, EventAggregate] | None = None,
    now: datetime,
) -> Batch:
    """Read the leads ``ids`` (any order; returned sorted by id) with the columns asked for."""
    fields = sorted(set(fields))
    base = ["id", "status", "closed_at", "override_score", "score", "tier"]
    columns = base + fields + (["attributes"] if attributes else [])
    if not ids:
        rows: list[tuple[Any, ...]] = []
    else:
        rows = list(Lead.objects.filter(_ids_filter(ids)).order_by("id").values_list(*columns))
        wanted = set(ids)
        if len(rows) != len(wanted):
            rows = [row for row in rows if row[0] in wanted]
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    batch = Batch(
        ids=np.array(cols[0], dtype=np.int64),
        now=now,
        status=list(cols[1]),
        closed_at=list(cols[2]),
        override=list(cols[3]),
        previous=list(zip(cols[4], cols[5], strict=True)),
        fields={name: list(cols[len(base) + i]) for i, name in enumerate(fields)},
        attributes=list(cols[-1]) if attributes else None,
    )
    if events:
        batch.events = event_columns(batch.ids, events, now=now, closed_at=batch.closed_at)
    return batch


def needs(features: Iterable[Feature]) -> tuple[set[str], bool, dict[str, EventAggregate]]:
    """(fields, attributes?, engagement aggregates) a set of features reads."""
    fields: set[str] = set()
    attributes = False
    events: dict[str, EventAggregate] = {}
    for feature in features:
        if feature.source == "field":
            fields.add(feature.key)
        elif feature.source == "attribute":
            attributes = True
        elif feature.source == "engagement":
            events[feature.key] = ENGAGEMENT[feature.key]
        elif feature.source == CROSS:
            part_fields, part_attributes, _ = needs(cross_parts(feature))
            fields |= part_fields
            attributes = attributes or part_attributes
    return fields, attributes, events


def category_counts(values: Iterable[Any]) -> Counter[Any]:
    missing = app_settings.MISSING_VALUES
    return Counter(v for v in values if not is_missing(v, missing))

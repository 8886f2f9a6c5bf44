"""Segment rules → one boolean SQL expression over contacts.

A rule is ``{"field": …, "op": …, "value": …}`` (activity rules add ``"days"``); a segment
matches the contacts for which every rule holds. Fields:

- ``contact.title`` · ``contact.last_activity_days`` · ``contact.created_days``
- ``account.tier`` · ``account.industry`` · ``account.country`` · ``account.employees``
- ``attributes.<key>`` — any custom attribute (text, number or yes/no)
- ``activity.<kind>`` — how many timeline entries of that kind in the last ``days`` days
- ``score.churn`` · ``score.propensity`` — the predictive scores, 0–1

:func:`compile_rules` returns a ``Q`` built from lookups, ``Exists`` and subquery
comparisons — no Python loop over contacts — so ``Contact.objects.filter(q).count()`` is one
query, and many segments can be counted together in one aggregate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, FloatField, Func, Q
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils import timezone

from hitl_crm.contacts.models import Account, Activity
from marketing.models import ContactScore, PredictiveModel

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

MAX_RULES = 12
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][\w-]{0,59}$")
NUMERIC_OPS = ("gte", "lte", "gt", "lt", "eq")
TEXT_OPS = ("eq", "ne", "in", "contains")
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "contains": "contains",
    "gte": "at least",
    "lte": "at most",
    "gt": "more than",
    "lt": "less than",
    "exists": "is set",
}
ACTIVITY_KINDS = [k for k in Activity.Kind.values if k not in {"system", "ai", "approval"}]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: str  # "text" | "number" | "choice" | "score" | "activity" | "days" | "attribute"
    ops: tuple[str, ...]
    choices: tuple[str, ...] = ()


FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in [
        FieldSpec("account.tier", "Account tier", "choice", ("eq", "ne", "in"), tuple(Account.Tier.values)),
        FieldSpec("account.industry", "Account industry", "text", TEXT_OPS),
        FieldSpec("account.country", "Account country (ISO code)", "text", ("eq", "ne", "in")),
        FieldSpec("account.employees", "Account employees", "number", NUMERIC_OPS),
        FieldSpec("contact.title", "Job title", "text", TEXT_OPS),
        FieldSpec("contact.last_activity_days", "Days since last activity", "days", ("gte", "lte")),
        FieldSpec("contact.created_days", "Days since the contact was added", "days", ("gte", "lte")),
        FieldSpec("score.churn", "Churn risk (0–1)", "score", ("gte", "lte")),
        FieldSpec("score.propensity", "Purchase propensity (0–1)", "score", ("gte", "lte")),
        *[
            FieldSpec(f"activity.{kind}", f"{label} in the last N days", "activity", ("gte", "lte", "eq"))
            for kind, label in Activity.Kind.choices
            if kind in ACTIVITY_KINDS
        ],
        FieldSpec(
            "attributes",
            "Custom attribute",
            "attribute",
            ("eq", "ne", "in", "contains", "gte", "lte", "gt", "lt", "exists"),
        ),
    ]
}
_TEXT_FIELD = {
    "account.industry": "account__industry",
    "account.country": "account__country",
    "account.tier": "account__tier",
    "contact.title": "title",
}
_NUMBER_FIELD = {"account.employees": "account__employees"}
_COMPARE = {"gte": GreaterThanOrEqual, "lte": LessThanOrEqual, "gt": GreaterThan, "lt": LessThan, "eq": Exact}


def field_spec(field: str) -> FieldSpec | None:
    if field.startswith("attributes."):
        return FIELDS["attributes"]
    return FIELDS.get(field)


def _number(value: Any, *, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool):
        raise ValidationError({where: "Enter a number."})
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({where: "Enter a number."}) from None
    if low is not None and number < low or high is not None and number > high:
        raise ValidationError({where: f"Enter a number between {low:g} and {high:g}."})
    return number


def _text_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()][:50]


def _scalar(raw: str) -> Any:
    """A form value as the JSON type an attribute most likely holds: number, yes/no or text."""
    text = raw.strip()
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


# One branch per field kind and operator, in the order the rule builder offers them: a flat table to review.
def normalise_rules(rules: Any) -> list[dict[str, Any]]:  # noqa: C901
    """Validate and tidy rules (types, bounds); raise ValidationError naming ``rules[i].part``."""
    if rules in (None, ""):
        return []
    if not isinstance(rules, list):
        raise ValidationError({"rules": "Expected a list of rules."})
    if len(rules) > MAX_RULES:
        raise ValidationError({"rules": f"Use at most {MAX_RULES} rules."})
    clean = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            raise ValidationError({where: "Each rule is an object with field, op and value."})
        field = str(rule.get("field", "")).strip()
        op = str(rule.get("op", "")).strip()
        spec = field_spec(field)
        if spec is None:
            raise ValidationError({f"{where}.field": f"Unknown field “{field}”."})
        if field == "attributes":
            raise ValidationError({f"{where}.field": "Name the attribute, e.g. plan."})
        if field.startswith("attributes.") and not ATTRIBUTE_KEY.match(field.split(".", 1)[1]):
            raise ValidationError({f"{where}.field": "Attribute names use letters, digits, - and _ only."})
        if op not in spec.ops:
            allowed = ", ".join(OP_LABELS[o] for o in spec.ops)
            raise ValidationError({f"{where}.op": f"“{OP_LABELS.get(op, op)}” does not apply here (use: {allowed})."})
        value = rule.get("value")
        item: dict[str, Any] = {"field": field, "op": op}
        if op == "exists":
            pass
        elif spec.kind == "score":
            item["value"] = _number(value, where=f"{where}.value", low=0, high=1)
        elif spec.kind in {"number", "days"}:
            item["value"] = _number(value, where=f"{where}.value", low=0)
        elif spec.kind == "activity":
            item["value"] = int(_number(value, where=f"{where}.value", low=0, high=100_000))
            item["days"] = int(_number(rule.get("days", 90), where=f"{where}.days", low=1, high=3650))
        elif op == "in":
            values = _text_list(value)
            if not values:
                raise ValidationError({f"{where}.value": "Enter one or more values, separated by commas."})
            if spec.choices and set(values) - set(spec.choices):
                raise ValidationError({f"{where}.value": f"Choose from: {', '.join(spec.choices)}."})
            item["value"] = values
        elif spec.kind == "attribute" and op in {"gte", "lte", "gt", "lt"}:
            item["value"] = _number(value, where=f"{where}.value")
        else:
            text = value if isinstance(value, (int, float, bool)) else str(value or "").strip()
            if text == "":
                raise ValidationError({f"{where}.value": "Enter a value."})
            if spec.choices and text not in spec.choices:
                raise ValidationError({f"{where}.value": f"Choose from: {', '.join(spec.choices)}."})
            item["value"] = _scalar(text) if spec.kind == "attribute" and isinstance(text, str) else text
        clean.append(item)
    return clean


# Subqueries below are uncorrelated ("pk IN (SELECT contact_id …)"): PostgreSQL runs each once
# (hash semi-join, or a hashed sub-plan inside COUNT … FILTER) instead of once per contact.


def _score_q(kind: str, op: str, value: float) -> Q:
    lookup = "value__gte" if op == "gte" else "value__lte"
    return Q(pk__in=ContactScore.objects.filter(kind=kind, **{lookup: value}).values("contact_id"))


def _activity_q(kind: str, op: str, value: int, days: int, now: datetime) -> Q:
    recent = Activity.objects.filter(kind=kind, occurred_at__gte=now - timedelta(days=days))
    anyone = recent.values("contact_id")
    if op == "gte" and value <= 1:
        return Q(pk__in=anyone) if value == 1 else Q()
    if op in {"lte", "eq"} and value == 0:
        return ~Q(pk__in=anyone)
    counted = recent.order_by().values("contact_id").annotate(n=Count("pk"))
    if op == "gte":
        return Q(pk__in=counted.filter(n__gte=value).values("contact_id"))
    if op == "eq":
        return Q(pk__in=counted.filter(n=value).values("contact_id"))
    return ~Q(pk__in=counted.filter(n__gt=value).values("contact_id"))  # lte: nobody with more


def _days_q(column: str, op: str, days: float, now: datetime) -> Q:
    edge = now - timedelta(days=days)
    if op == "gte":  # at least N days ago, or never
        return Q(**{f"{column}__lte": edge}) | Q(**{f"{column}__isnull": True})
    return Q(**{f"{column}__gte": edge})


class JsonNumber(Func):
    """``attributes[key]`` as a float when it is a JSON number, else NULL — the same on every database.

    (Comparing JSON values directly differs: PostgreSQL orders any string below any number,
    SQLite orders text above numbers.)
    """

    output_field = FloatField()

    def __init__(self, field: str, key: str) -> None:
        if not ATTRIBUTE_KEY.match(key):
            raise ValueError(f"Bad attribute name {key!r}")
        self.key = key
        super().__init__(F(field))

    def as_sql(  # SQLite (JSON1)
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> _AsSqlType:
        sql, params = compiler.compile(self.source_expressions[0])
        path = f'$."{self.key}"'
        return (
            f"(CASE WHEN json_type({sql}, %s) IN ('integer', 'real') THEN json_extract({sql}, %s) END)",
            [*params, path, *params, path],
        )

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any) -> _AsSqlType:
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CASE WHEN jsonb_typeof({sql} -> %s) = 'number' THEN ({sql} ->> %s)::double precision END)",
            [*params, self.key, *params, self.key],
        )


def _attribute_q(key: str, op: str, value: Any) -> Q:
    path = f"attributes__{key}"
    if op == "exists":
        return Q(attributes__has_key=key)
    if op in {"gte", "lte", "gt", "lt"}:
        return Q(_COMPARE[op](JsonNumber("attributes", key), float(value)))
    if op == "contains":
        return Q(**{f"{path}__icontains": str(value)})
    if op == "in":
        values = [_scalar(v) for v in value]
        return Q(**{f"{path}__in": values}) | Q(**{f"{path}__in": [str(v) for v in value]})
    match = Q(**{path: value})
    if not isinstance(value, str):  # 12 may be stored as "12" by an import
        match |= Q(**{path: str(value).lower() if isinstance(value, bool) else str(value)})
    return ~match if op == "ne" else match


def compile_rules(rules: list[dict[str, Any]], *, now: datetime | None = None) -> Q:
    """One ``Q`` that holds for the contacts matching every (already normalised) rule."""
    now = now or timezone.now()
    condition = Q()
    for rule in rules:
        field, op = rule["field"], rule["op"]
        value: Any = rule.get("value")  # normalised: the type the field's operator takes
        if field.startswith("attributes."):
            part = _attribute_q(field.split(".", 1)[1], op, value)
        elif field.startswith("score."):
            part = _score_q(field.split(".", 1)[1], op, value)
        elif field.startswith("activity."):
            part = _activity_q(field.split(".", 1)[1], op, value, rule.get("days", 90), now)
        elif field == "contact.last_activity_days":
            part = _days_q("last_activity_at", op, value, now)
        elif field == "contact.created_days":
            part = _days_q("created_at", op, value, now) & Q(created_at__isnull=False)
        elif field in _NUMBER_FIELD:
            column = _NUMBER_FIELD[field]
            part = Q(**{column if op == "eq" else f"{column}__{op}": value})
        else:
            column = _TEXT_FIELD[field]
            if op == "in":
                part = Q(**{f"{column}__in": value})
            elif op == "contains":
                part = Q(**{f"{column}__icontains": value})
            else:
                part = Q(**{f"{column}__iexact": value})
                part = ~part if op == "ne" else part
        condition &= part
    return condition


def describe_rule(rule: dict[str, Any]) -> str:
    """A rule in words, e.g. "Churn risk (0–1) at least 0.6"."""
    spec = field_spec(rule["field"])
    label = (
        f"Attribute “{rule['field'].split('.', 1)[1]}”"
        if rule["field"].startswith("attributes.")
        else (spec.label.replace(" in the last N days", "") if spec else rule["field"])
    )
    op = OP_LABELS.get(rule["op"], rule["op"])
    if rule["op"] == "exists":
        return f"{label} {op}"
    value: Any = rule.get("value")
    if isinstance(value, list):
        shown = ", ".join(map(str, value))
    else:
        shown = f"{value:g}" if isinstance(value, float) else value
    if rule["field"].startswith("activity."):
        return f"{label}: {op} {shown} in the last {rule.get('days', 90)} days"
    return f"{label} {op} {shown}"


SCORE_KINDS = PredictiveModel.Kind.values

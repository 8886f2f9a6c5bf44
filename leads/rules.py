"""Admin-defined scoring rules ("parameters you create"), evaluated for a whole batch at once.

A rule tests a lead field, a custom attribute, or an engagement figure (number of events of
a kind in the last N days, optionally only events whose data contains given text; total
purchase amount; days since the last event) with an operator, and adds its points when it
matches. Text comparisons ignore case; ordering operators compare numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from leads.features import RULE_FIELDS, Batch, Column, EventAggregate, is_missing, per_distinct_value, to_number
from leads.models import LeadEvent, ScoringRule

Op = ScoringRule.Operator
# The numeric operators, applied to a whole column at once or to one value.
_COMPARE: dict[str, np.ufunc] = {
    Op.GT: np.greater,
    Op.GTE: np.greater_equal,
    Op.LT: np.less,
    Op.LTE: np.less_equal,
    Op.EQ: np.equal,
    Op.NE: np.not_equal,
}
ENGAGEMENT_PATHS = ("any", *LeadEvent.ENGAGEMENT)


def event_spec(rule: ScoringRule) -> EventAggregate:
    match = tuple(sorted((str(k), str(v)) for k, v in (rule.event_match or {}).items()))
    return EventAggregate(rule.path, rule.within_days or None, rule.aggregate or "count", match)


def rule_key(rule: ScoringRule) -> str:
    return f"rule:{rule.pk}"


def needs(rules: Sequence[ScoringRule]) -> tuple[set[str], bool, dict[str, EventAggregate]]:
    fields: set[str] = set()
    attributes = False
    events: dict[str, EventAggregate] = {}
    for rule in rules:
        if rule.target == ScoringRule.Target.FIELD:
            fields.add(rule.path)
        elif rule.target == ScoringRule.Target.ATTRIBUTE:
            attributes = True
        else:
            events[rule_key(rule)] = event_spec(rule)
    return fields, attributes, events


def validate_rule(rule: ScoringRule) -> None:
    """Raise ValidationError naming the field when a rule could never be evaluated."""
    errors: dict[str, str] = {}
    if rule.target == ScoringRule.Target.FIELD and rule.path not in RULE_FIELDS:
        errors["path"] = f"Use one of: {', '.join(RULE_FIELDS)}."
    if rule.target == ScoringRule.Target.ENGAGEMENT:
        if rule.path not in ENGAGEMENT_PATHS:
            errors["path"] = f"Use an event kind: {', '.join(ENGAGEMENT_PATHS)}."
        if not isinstance(rule.event_match or {}, dict):
            errors["event_match"] = 'Use an object such as {"page": "pricing"}.'
    elif rule.within_days or rule.event_match:
        errors["within_days"] = "Only engagement rules look back in time or match event data."
    if not str(rule.path).strip():
        errors["path"] = "Say what the rule tests."
    if rule.operator == Op.IN and not isinstance(rule.value, list):
        errors["value"] = 'Give a list for "is one of", e.g. ["Referral", "Partner"].'
    if rule.operator in (Op.GT, Op.GTE, Op.LT, Op.LTE) and math.isnan(to_number(rule.value)):
        errors["value"] = "Give a number to compare with."
    if rule.operator not in (Op.EXISTS, Op.IN) and rule.value is None:
        errors["value"] = "Give a value to compare with."
    if errors:
        raise ValidationError(errors)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split()).lower()


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _equal(actual: Any, expected: Any) -> bool:
    if is_missing(actual):
        return is_missing(expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        a, e = _text(actual), _text(expected)
        return (a in _TRUE and e in _TRUE) or (a in _FALSE and e in _FALSE)
    a_num, e_num = to_number(actual), to_number(expected)
    if not (math.isnan(a_num) or math.isnan(e_num)):
        return a_num == e_num
    return _text(actual) == _text(expected)


def _predicate(rule: ScoringRule) -> Callable[[Any], bool]:
    op, expected = rule.operator, rule.value
    if op == Op.EXISTS:
        return lambda v: not is_missing(v) and v != [] and v != {}
    if op == Op.EQ:
        return lambda v: _equal(v, expected)
    if op == Op.NE:
        return lambda v: not _equal(v, expected)
    if op == Op.IN:
        options = list(expected or [])
        return lambda v: any(_equal(v, option) for option in options)
    if op == Op.CONTAINS:
        needle = _text(expected)

        def contains(v: Any) -> bool:
            if isinstance(v, list):
                return any(_text(item) == needle for item in v)
            return not is_missing(v) and needle in _text(v)

        return contains
    bound = to_number(expected)
    compare = _COMPARE[op]
    return lambda v: bool(compare(to_number(v), bound))


def matches(rule: ScoringRule, values: Column) -> np.ndarray:
    """Boolean array: which rows the rule matches."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        if rule.operator == Op.EXISTS:
            return ~np.isnan(values) & (values != 0) if rule.aggregate != "days_since" else ~np.isnan(values)
        if rule.operator in (Op.GT, Op.GTE, Op.LT, Op.LTE, Op.EQ, Op.NE):
            bound = to_number(rule.value)
            with np.errstate(invalid="ignore"):
                result = _COMPARE[rule.operator](values, bound)
            return result & ~np.isnan(values) if rule.operator != Op.NE else result
    predicate = _predicate(rule)
    test = per_distinct_value(lambda value: bool(predicate(value)))
    return np.fromiter((test(v) for v in values), dtype=bool, count=len(values))


@dataclass(frozen=True)
class RuleResult:
    points: np.ndarray  # int per row
    matched: np.ndarray  # bool, rows × rules
    positive_max: int  # sum of positive points of the rules

    def normalised(self) -> np.ndarray:
        """Points as 0–100: the share of the best achievable (all positive rules matched)."""
        if self.positive_max <= 0:
            return np.zeros(len(self.points))
        return 100.0 * np.clip(self.points / self.positive_max, 0.0, 1.0)


def evaluate(rules: Sequence[ScoringRule], batch: Batch) -> RuleResult:
    n = len(batch)
    matched = np.zeros((n, len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        values: Column
        if rule.target == ScoringRule.Target.FIELD:
            values = batch.fields[rule.path]
        elif rule.target == ScoringRule.Target.ATTRIBUTE:
            assert batch.attributes is not None, "batch loaded without attributes"
            values = [attrs.get(rule.path) if attrs else None for attrs in batch.attributes]
        else:
            values = batch.events[rule_key(rule)]
        matched[:, j] = matches(rule, values)
    points = (
        matched.astype(np.int64) @ np.array([r.points for r in rules], dtype=np.int64)
        if rules
        else np.zeros(n, dtype=np.int64)
    )
    return RuleResult(points, matched, sum(max(r.points, 0) for r in rules))


def rule_factors(rules: Sequence[ScoringRule], result: RuleResult, *, k: int) -> list[list[dict[str, Any]]]:
    """For each row, the matching rules with the largest effect (points), up to ``k``."""
    if not rules:
        return [[] for _ in range(len(result.points))]
    order = sorted(range(len(rules)), key=lambda j: -abs(rules[j].points))
    factors = [{"label": rules[j].name, "value": rules[j].points, "kind": "rule"} for j in order]
    out = []
    for row in result.matched[:, order].tolist():
        hits = [factors[j] for j, hit in enumerate(row) if hit][:k]
        out.append([dict(f) for f in hits])
    return out

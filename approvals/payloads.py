"""Payload fingerprints, diffs and subject versions.

The executor runs exactly the payload a human approved: it compares the sha256 of the
canonical JSON of ``final`` with the stored hash, and the subject's version with the
one stored at decision time.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


def canonical_json(value: Any) -> str:
    """Stable text for ``value``: sorted keys, no spaces, dates/decimals/uuids as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def jsonable(value: Any) -> Any:
    """``value`` as it will come back from a JSON column (so hashes match after a round trip)."""
    return json.loads(canonical_json(value))


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def payload_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": …, "after": …}}`` for every field whose value changed."""
    fields = sorted(set(before) | set(after))
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in fields
        if canonical_json(before.get(name)) != canonical_json(after.get(name))
    }


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_json(value)


def edit_ratio(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Share of the payload a human rewrote: 0 = untouched, 1 = replaced entirely.

    Character-level, over every field, weighted by length: fixing one typo in a long
    email body is a small edit; rewriting the subject line of a short one is a big one.
    """
    changed = 0.0
    total = 0
    for name in sorted(set(before) | set(after)):
        old, new = _as_text(before.get(name, "")), _as_text(after.get(name, ""))
        size = max(len(old), len(new))
        total += size
        if old != new:
            matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
            changed += (1.0 - matcher.ratio()) * size
    if total == 0:
        return 0.0
    return round(min(1.0, max(0.0, changed / total)), 4)


def subject_version(obj: models.Model) -> str:
    """A fingerprint that changes whenever the subject changes.

    ``obj.approval_version()`` when the model defines it; otherwise its ``updated_at``;
    otherwise a hash of its concrete field values.
    """
    custom = getattr(obj, "approval_version", None)
    if callable(custom):
        return str(custom())
    updated_at = getattr(obj, "updated_at", None)
    if updated_at is not None:
        # isoformat keeps microseconds (the JSON encoder would round them to milliseconds).
        material: Any = {"updated_at": updated_at.isoformat() if hasattr(updated_at, "isoformat") else updated_at}
    else:
        material = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()[:32]

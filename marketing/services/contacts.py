"""Importing customers with attributes (evaluation data sets, migrations from other tools).

A system entry point: run by an operator from the command line (``marketing_eval``), acting as
the system; the contacts it creates are recorded as imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from hitl_crm.contacts.models import Contact
from hitl_crm.contacts.services import contact_create


@transaction.atomic
def contacts_import_attributes(*, rows: Iterable[dict[str, Any]], id_field: str, source: str) -> dict[str, int]:
    """Create one contact per row (numbers typed, blanks as missing), keyed by ``source:id``.

    Cells are typed by :func:`hitl_crm.coercion.coerce_attribute`, as in every import. Rows whose
    key was imported before are skipped, so running an import twice adds nothing.
    """
    from hitl_crm.coercion import coerce_attribute

    rows = list(rows)
    keys = [f"{source}:{row[id_field]}" for row in rows]
    existing = set(
        Contact.objects.filter(attributes__external_id__in=keys).values_list("attributes__external_id", flat=True)
    )
    created = skipped = 0
    for key, row in zip(keys, rows, strict=True):
        if key in existing:
            skipped += 1
            continue
        attributes = {k: coerce_attribute(v) for k, v in row.items() if k != id_field}
        attributes["external_id"] = key
        contact_create(source="import", last_name=str(row[id_field])[:100], attributes=attributes)
        existing.add(key)
        created += 1
    return {"created": created, "skipped": skipped}

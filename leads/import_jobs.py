"""CSV import of leads: upload → mapping and preview → a background run with progress.

Every data row ends up in exactly one count — created, updated, skipped (a duplicate) or
failed — and every skipped or failed row has an error record naming the line, the column and
the reason (downloadable as CSV with the original values, ready to fix and upload again).
Good rows are imported even when others are bad.

The run is chunked: each chunk's leads, errors and counters commit together under a lock on
the import row, so a redelivered task resumes where the last commit left off and never
imports a row twice.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from approvals.audit import audit_record
from hitl_crm.csvfile import ImportFileError
from hitl_crm.permissions import require_permission
from leads import csv_parsing
from leads.conf import app_settings
from leads.models import Lead, LeadImport, LeadImportError

logger = logging.getLogger(__name__)
IMPORT_PERMISSION = "leads.add_leadimport"


def _owners() -> dict[str, int]:
    """Active users by lower-case username and email (imports name owners either way)."""
    owners: dict[str, int] = {}
    for pk, username, email in get_user_model().objects.filter(is_active=True).values_list("pk", "username", "email"):
        if email:
            owners.setdefault(email.lower(), pk)
        owners[username.lower()] = pk
    return owners


@transaction.atomic
def lead_import_create(*, file_name: str, data: bytes, actor: User) -> LeadImport:
    """Store an upload (decoded) with a suggested mapping; raise ValidationError naming the problem.

    Needs ``leads.add_leadimport``.
    """
    require_permission(actor, IMPORT_PERMISSION, message="You may not import leads.")
    if len(data) > app_settings.IMPORT_MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {app_settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB."})
    try:
        parsed = csv_parsing.parse_upload(data)
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    if parsed.total_rows == 0:
        raise ValidationError({"file": "The file has a header but no rows."})
    return LeadImport.objects.create(
        file_name=(file_name or "upload.csv")[:255],
        content=parsed.text,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        headers=parsed.headers,
        mapping=csv_parsing.suggest_mapping(parsed.headers),
        total_rows=parsed.total_rows,
        created_by=actor,
    )


@dataclass
class PreviewRow:
    line: int
    cells: list[tuple[str, str]]  # (target label, value as it will be stored)
    errors: list[tuple[str, str, str]]  # (column, value, reason)


@dataclass
class Preview:
    """What the run would do with the file, before it runs (nothing is written).

    ``rows`` are the first rows as they would be stored; ``bad`` the rows (of the first
    ``checked``) that would not be imported, each with the column and the reason.
    """

    rows: list[PreviewRow]
    bad: list[PreviewRow]
    bad_count: int
    checked: int
    total: int

    @property
    def all_checked(self) -> bool:
        return self.checked >= self.total


#: Bad rows listed by the preview (all are counted).
PREVIEW_BAD_ROWS = 50


def lead_import_preview(*, lead_import: LeadImport, mapping: dict[str, str], limit: int = 5) -> Preview:
    """How the first ``limit`` rows would be imported with ``mapping``, and which of the first
    ``HITL_CRM_LEADS_IMPORT_PREVIEW_ROWS`` rows would not be (bad values, nothing to identify the
    lead, the same email or id as an earlier line). Nothing is written."""
    plan = csv_parsing.Plan.build(lead_import.headers, mapping, owners=_owners())
    rows: list[PreviewRow] = []
    bad: list[PreviewRow] = []
    bad_count = 0
    seen: dict[str, int] = {}
    data = csv_parsing.data_rows(lead_import.content, lead_import.delimiter, limit=app_settings.IMPORT_PREVIEW_ROWS)
    for line, values in data:
        clean = csv_parsing.clean_row(line, values, plan)
        errors = list(clean.errors)
        if not errors:
            for what, key in (("email", clean.email), ("id", clean.external_id)):
                if key and f"{what}:{key}" in seen:
                    errors.append(("", "", f"Same {what} as line {seen[f'{what}:{key}']}; not imported twice."))
                    break
            for what, key in (("email", clean.email), ("id", clean.external_id)):
                if key:
                    seen.setdefault(f"{what}:{key}", line)
        if len(rows) < limit:
            cells = [
                (csv_parsing.FIELDS[k].label if k in csv_parsing.FIELDS else k, _shown(v))
                for k, v in clean.fields.items()
            ]
            if clean.fields.get("estimated_value") is not None and not clean.fields.get("value_currency"):
                cells.append((csv_parsing.FIELDS["value_currency"].label, f"{app_settings.DEFAULT_CURRENCY} (default)"))
            cells += [(f"attribute {k}", str(v)) for k, v in clean.attributes.items()]
            rows.append(PreviewRow(line, cells, errors))
        if errors:
            bad_count += 1
            if len(bad) < PREVIEW_BAD_ROWS:
                bad.append(PreviewRow(line, [], errors))
    return Preview(rows, bad, bad_count, len(data), lead_import.total_rows)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@transaction.atomic
def lead_import_start(
    *,
    lead_import: LeadImport,
    mapping: dict[str, str],
    actor: User,
    update_existing: bool = False,
    default_owner: User | None = None,
    run: bool = True,
) -> LeadImport:
    """Fix the mapping and queue the run (``run=False``: the caller runs it, e.g. a command).

    Needs ``leads.add_leadimport``; audited, since the run may change existing leads' status and
    owner (``update_existing``) for the person who started it.
    """
    require_permission(actor, IMPORT_PERMISSION, lead_import, message="You may not import leads.")
    imp = LeadImport.objects.select_for_update().get(pk=lead_import.pk)
    if imp.status != LeadImport.Status.UPLOADED:
        raise ValidationError({"status": f"This import is {imp.get_status_display().lower()}; it cannot start again."})
    imp.mapping = csv_parsing.validate_mapping(mapping, imp.headers)
    imp.update_existing = update_existing
    imp.default_owner = default_owner
    imp.status = LeadImport.Status.QUEUED
    imp.save(update_fields=["mapping", "update_existing", "default_owner", "status"])
    audit_record(
        verb="lead_import.started",
        actor=actor,
        target=imp,
        data={
            "before": {"status": LeadImport.Status.UPLOADED},
            "after": {
                "status": imp.status,
                "update_existing": update_existing,
                "default_owner": default_owner.get_username() if default_owner is not None else None,
                "rows": imp.total_rows,
            },
        },
    )
    if run:
        from leads.tasks import lead_import_run_task

        lead_import_run_task.delay_on_commit(imp.pk)
    return imp


# --- the run ------------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[LeadImportError] = field(default_factory=list)


def _error(
    imp: LeadImport, row: csv_parsing.CleanRow, column: str, value: str, message: str, *, duplicate: bool = False
) -> LeadImportError:
    return LeadImportError(
        lead_import=imp,
        line=row.line,
        column=column[:255],
        value=value[:255],
        message=message[:500],
        duplicate=duplicate,
        row=row.values,
    )


def _existing(rows: list[csv_parsing.CleanRow]) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    emails = {r.email for r in rows if r.email}
    ext_ids = {r.external_id for r in rows if r.external_id}
    if not emails and not ext_ids:
        return {}, {}
    found = Lead.objects.filter(Q(email__in=emails) | Q(external_id__in=ext_ids)).values(
        "id", "email", "external_id", "lead_import_id", "attributes"
    )
    by_email: dict[str, Mapping[str, Any]] = {}
    by_ext: dict[str, Mapping[str, Any]] = {}
    for lead in found:
        if lead["email"] in emails:
            by_email[lead["email"]] = lead
        if lead["external_id"] in ext_ids:
            by_ext[lead["external_id"]] = lead
    return by_email, by_ext


def _contacts_by_email(emails: Iterable[str]) -> dict[str, int]:
    from hitl_crm.contacts.models import Contact

    emails = [e for e in emails if e]
    if not emails:
        return {}
    return {email.lower(): pk for pk, email in Contact.objects.filter(email__in=emails).values_list("pk", "email")}


def _process_chunk(
    imp: LeadImport, plan: csv_parsing.Plan, chunk: list[tuple[int, list[str]]], seen: dict[str, int], now: datetime
) -> ChunkResult:
    result = ChunkResult()
    good: list[csv_parsing.CleanRow] = []
    for line, values in chunk:
        row = csv_parsing.clean_row(line, values, plan)
        if row.ok:
            good.append(row)
            continue
        result.failed += 1
        result.errors.extend(_error(imp, row, column, value, message) for column, value, message in row.errors)
    by_email, by_ext = _existing(good)
    creates: list[tuple[csv_parsing.CleanRow, Lead]] = []
    updates: list[tuple[csv_parsing.CleanRow, Mapping[str, Any]]] = []
    for row in good:
        keys = [
            k
            for k in (f"email:{row.email}" if row.email else "", f"id:{row.external_id}" if row.external_id else "")
            if k
        ]
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is not None:
            what = "email" if f"email:{row.email}" in seen else "id"
            result.skipped += 1
            result.errors.append(
                _error(
                    imp, row, "", "", f"Same {what} as line {earlier} of this file; not imported twice.", duplicate=True
                )
            )
            continue
        match_email = by_email.get(row.email) if row.email else None
        match_ext = by_ext.get(row.external_id) if row.external_id else None
        if match_email and match_ext and match_email["id"] != match_ext["id"]:
            result.failed += 1
            result.errors.append(
                _error(
                    imp,
                    row,
                    "",
                    "",
                    f"The email belongs to lead #{match_email['id']} but the id "
                    f"to lead #{match_ext['id']}; fix one of them.",
                )
            )
            continue
        existing = match_email or match_ext
        for key in keys:
            seen[key] = row.line
        if existing is None:
            creates.append((row, _new_lead(imp, row, now)))
        elif existing["lead_import_id"] == imp.pk:
            result.skipped += 1
            result.errors.append(
                _error(
                    imp,
                    row,
                    "",
                    "",
                    f"Same lead as an earlier line of this file (lead #{existing['id']}); not imported twice.",
                    duplicate=True,
                )
            )
        elif imp.update_existing:
            updates.append((row, existing))
        else:
            what = "email" if match_email else "id"
            result.skipped += 1
            result.errors.append(
                _error(
                    imp,
                    row,
                    "",
                    "",
                    f"A lead with this {what} already exists (lead "
                    f"#{existing['id']}); choose “update existing leads” to update it.",
                    duplicate=True,
                )
            )
    contacts = _contacts_by_email(row.email for row, _ in creates)
    for row, lead in creates:
        lead.contact_id = contacts.get(row.email)
    Lead.objects.bulk_create([lead for _, lead in creates], batch_size=500)
    result.created = len(creates)
    if updates:
        result.updated = _apply_updates(imp, updates, now)
    return result


def _new_lead(imp: LeadImport, row: csv_parsing.CleanRow, now: datetime) -> Lead:
    fields = dict(row.fields)
    if "owner_id" not in fields and imp.default_owner_id:
        fields["owner_id"] = imp.default_owner_id
    lead = Lead(**fields, attributes=row.attributes, lead_import=imp, score_dirty_at=now, created_at=now)
    if lead.estimated_value is not None and not lead.value_currency:
        lead.value_currency = app_settings.DEFAULT_CURRENCY
    if lead.status in Lead.CLOSED:
        lead.closed_at = now
    lead.search_text = lead.fresh_search_text()  # bulk_create bypasses Lead.save
    return lead


def _apply_updates(
    imp: LeadImport, updates: list[tuple[csv_parsing.CleanRow, Mapping[str, Any]]], now: datetime
) -> int:
    """Overwrite the fields a row gives a value for; merge attributes; keep everything else."""
    ids = [existing["id"] for _, existing in updates]
    # The account is joined for ``search_text`` (its name is part of it), which bulk writes bypass ``save`` for.
    by_id = {lead.pk: lead for lead in Lead.objects.filter(pk__in=ids).select_related("account")}
    fields = {"attributes", "lead_import", "score_dirty_at", "updated_at", "closed_at", "search_text"}
    objs = []
    for row, existing in updates:
        lead = by_id[existing["id"]]
        old_status = lead.status
        lead.attributes = {**(lead.attributes or {}), **row.attributes}
        for name, value in row.fields.items():
            setattr(lead, name, value)
            fields.add(Lead._meta.get_field(name).name)
        if "estimated_value" in row.fields and "value_currency" not in row.fields:
            lead.value_currency = lead.value_currency or app_settings.DEFAULT_CURRENCY
            fields.add("value_currency")
        if lead.status in Lead.CLOSED and old_status not in Lead.CLOSED:
            lead.closed_at = now
        elif lead.status not in Lead.CLOSED:
            lead.closed_at = None
        lead.lead_import_id = imp.pk
        lead.score_dirty_at = now
        lead.updated_at = now
        lead.search_text = lead.fresh_search_text()
        objs.append(lead)
    bulk_write(objs, sorted(fields))
    return len(objs)


def _json_value(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def bulk_write(objs: list[Lead], fields: list[str]) -> None:
    """``bulk_update`` of whole rows; on PostgreSQL one ``UPDATE … FROM jsonb_to_recordset`` per 1,000
    (Django's ``CASE WHEN`` per column and row is ~10× slower there for wide updates)."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        Lead.objects.bulk_update(objs, fields, batch_size=500)
        return
    qn = connection.ops.quote_name
    # Every name is a concrete column of the lead (get_field also finds relations and generic keys).
    columns = [cast("models.Field[Any, Any]", Lead._meta.get_field(name)) for name in fields]
    assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns)
    definitions = ", ".join(f"{qn(f.column)} {f.db_type(connection)}" for f in columns)
    sql = (
        f"UPDATE {qn(Lead._meta.db_table)} AS l SET {assignments} "
        f'FROM jsonb_to_recordset(%s::jsonb) AS v("id" bigint, {definitions}) WHERE l.id = v.id'
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), 1000):
            rows = [
                {"id": obj.pk, **{f.column: _json_value(f, getattr(obj, f.attname)) for f in columns}}
                for obj in objs[start : start + 1000]
            ]
            cursor.execute(sql, [json.dumps(rows)])


def _finish(imp_id: int, *, status: str, error: str = "") -> None:
    LeadImport.objects.filter(pk=imp_id, status=LeadImport.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), error=error[:5000]
    )


def _run_chunk(
    imp_id: int, plan: csv_parsing.Plan, rows: list[tuple[int, list[str]]], seen: dict[str, int], size: int
) -> bool:
    """Import the next chunk under a lock on the import; False when nothing is left (or it stopped)."""
    with transaction.atomic():
        locked = LeadImport.objects.select_for_update().get(pk=imp_id)
        if locked.status != LeadImport.Status.RUNNING:
            return False
        start = locked.processed_rows
        chunk = rows[start : start + size]
        if not chunk:
            return False
        result = _process_chunk(locked, plan, chunk, seen, timezone.now())
        LeadImportError.objects.bulk_create(result.errors, batch_size=1000)
        locked.processed_rows = start + len(chunk)
        locked.created_rows += result.created
        locked.updated_rows += result.updated
        locked.skipped_rows += result.skipped
        locked.failed_rows += result.failed
        locked.save(update_fields=["processed_rows", "created_rows", "updated_rows", "skipped_rows", "failed_rows"])
        return True


def lead_import_run(*, import_id: int) -> LeadImport:
    """Import the queued file chunk by chunk; idempotent (a second run resumes or does nothing).

    A system entry point (the import task): the person who started the import was checked and
    audited by :func:`lead_import_start`.

    Manages its own transactions: do not call it inside one.
    """
    imp = LeadImport.objects.get(pk=import_id)
    if imp.status not in (LeadImport.Status.QUEUED, LeadImport.Status.RUNNING):
        return imp
    LeadImport.objects.filter(pk=imp.pk, started_at__isnull=True).update(started_at=timezone.now())
    LeadImport.objects.filter(pk=imp.pk, status=LeadImport.Status.QUEUED).update(status=LeadImport.Status.RUNNING)
    plan = csv_parsing.Plan.build(imp.headers, imp.mapping, owners=_owners())
    rows = csv_parsing.data_rows(imp.content, imp.delimiter)
    seen: dict[str, int] = {}
    size = app_settings.IMPORT_CHUNK_SIZE
    try:
        more = True
        while more:
            before = dict(seen)
            try:
                more = _run_chunk(imp.pk, plan, rows, seen, size)
            except IntegrityError:
                # Another import created one of these leads meanwhile: look again, once.
                seen.clear()
                seen.update(before)
                more = _run_chunk(imp.pk, plan, rows, seen, size)
    except Exception as exc:
        logger.exception("Lead import %s stopped", imp.pk)
        done = LeadImport.objects.get(pk=imp.pk).processed_rows
        line = rows[done][0] if done < len(rows) else 0
        _finish(
            imp.pk,
            status=LeadImport.Status.FAILED,
            error=f"Stopped at line {line}: {type(exc).__name__}: {exc}. The {done} rows before it were "
            "processed; the counts show what became of them.",
        )
        return LeadImport.objects.get(pk=imp.pk)
    _finish(imp.pk, status=LeadImport.Status.DONE)
    from leads.scoring import rescore_schedule

    rescore_schedule()
    return LeadImport.objects.get(pk=imp.pk)


# --- the error report ----------------------------------------------------------------------------


def _safe_cell(value: Any) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; prefix them so they stay text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def lead_import_error_report(*, lead_import: LeadImport) -> str:
    """CSV of every row that was not imported: line, column, value, reason, then the row as it was."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    headers = [h or f"Column {i + 1}" for i, h in enumerate(lead_import.headers)]
    writer.writerow(["line", "column", "value", "error", "duplicate", *headers])
    for error in lead_import.errors.order_by("line", "id").iterator(chunk_size=2000):
        writer.writerow(
            [
                error.line,
                _safe_cell(error.column),
                _safe_cell(error.value),
                _safe_cell(error.message),
                "yes" if error.duplicate else "no",
                *(_safe_cell(v) for v in error.row),
            ]
        )
    return out.getvalue()

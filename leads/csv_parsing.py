"""Reading lead CSV files: encodings, delimiters, mapping columns to fields, cleaning rows.

Pure functions (no writes); ``leads.import_jobs`` runs them chunk by chunk and stores the result.

- Encodings: UTF-8 with or without a BOM, UTF-16 with a BOM, else Windows-1252 (Excel's
  default on Western Windows), else Latin-1 (which never fails); the one used is reported.
- CRLF, LF or CR line ends; a delimiter sniffed from the header (comma, semicolon, tab, pipe);
  a trailing comma on every line (an empty last column) is ignored.
- Cell values are read by :mod:`hitl_crm.coercion` (locale-aware numbers such as "1,234.50" or
  "12.500,00", money with its currency such as "€12.500,00" or "12 500,00 €", yes/no, email
  addresses), the same rules as every other import.
- Column names are matched to fields by their synonyms ("E-mail", "Mail", "Email address" →
  email; "Company name", "Organisation" → company; …) ignoring case, spaces and punctuation.
- Each column maps to a lead field, to a custom attribute (kept under the column's name), or is
  ignored. Every problem names the line, the column and the reason.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from hitl_crm.coercion import coerce_attribute, parse_bool, parse_email, parse_money, parse_number
from hitl_crm.csvfile import ImportFileError, decode, records, sniff_delimiter
from hitl_crm.money import UnknownCurrency, currency_code
from hitl_crm.tags import normalize_tags
from leads.models import Lead

IGNORE = "ignore"


def clean_headers(raw: list[str], rows: list[list[str]] | None = None) -> list[str]:
    """Trimmed, unique column names; an unnamed column is "Column N" (empty if it holds nothing)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(raw):
        name = " ".join(name.replace("\ufeff", "").split())
        if not name:
            has_data = rows is None or any(index < len(r) and r[index].strip() for r in rows)
            name = f"Column {index + 1}" if has_data else ""
        if name:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} ({seen[name]})"
        out.append(name)
    return out


@dataclass(frozen=True)
class ParsedFile:
    text: str
    encoding: str
    delimiter: str
    headers: list[str]
    total_rows: int


def parse_upload(data: bytes) -> ParsedFile:
    """Decode, sniff and count an upload; raise ImportFileError when it cannot be imported."""
    text, encoding = decode(data)
    if not text.strip():
        raise ImportFileError("The file is empty.")
    delimiter = sniff_delimiter(text)
    it = records(text, delimiter)
    try:
        _, header = next(it)
    except StopIteration:
        raise ImportFileError("The file has no header line.") from None
    sample: list[list[str]] = []
    total = 0
    for _, values in it:
        total += 1
        if len(sample) < 200:
            sample.append(values)
    headers = clean_headers(header, sample)
    if not any(headers):
        raise ImportFileError("The header line names no columns.")
    return ParsedFile(text, encoding, delimiter, headers, total)


def data_rows(text: str, delimiter: str, *, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """The data records (the header skipped), all or the first ``limit``."""
    it = records(text, delimiter)
    next(it, None)
    return list(itertools.islice(it, limit))


# --- fields -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    synonyms: tuple[str, ...] = ()


FIELDS: dict[str, Target] = {
    t.name: t
    for t in [
        Target(
            "email",
            "Email",
            ("email", "e-mail", "email address", "e-mail address", "mail", "mail address", "email id", "emails"),
        ),
        Target("first_name", "First name", ("first name", "given name", "forename", "first", "fname")),
        Target("last_name", "Last name", ("last name", "surname", "family name", "last", "lname")),
        Target("full_name", "Full name (split into first and last)", ("name", "full name", "contact name", "contact")),
        Target(
            "phone",
            "Phone",
            (
                "phone",
                "phone number",
                "phone no",
                "mobile",
                "mobile phone",
                "mobile number",
                "cell",
                "cell phone",
                "work phone",
                "telephone",
                "telephone number",
                "tel",
                "tel no",
            ),
        ),
        Target("title", "Job title", ("title", "job title", "position", "role", "job")),
        Target(
            "company",
            "Company",
            (
                "company",
                "company name",
                "organization",
                "organisation",
                "organization name",
                "organisation name",
                "org",
                "account",
                "account name",
                "business",
                "business name",
                "employer",
            ),
        ),
        Target(
            "employees",
            "Employees (company size)",
            ("employees", "company size", "number of employees", "no of employees", "headcount", "staff"),
        ),
        Target("industry", "Industry", ("industry", "sector")),
        Target("country", "Country", ("country", "country name", "nation")),
        Target("source", "Source", ("source", "lead source", "channel")),
        Target("status", "Status (new, working, qualified, won, lost)", ("status", "lead status", "stage")),
        Target("won", "Converted? (yes = won, no = lost)", ("converted", "won", "is won")),
        Target("owner", "Owner (username or email)", ("owner", "lead owner", "sales rep", "rep", "assigned to")),
        Target(
            "estimated_value",
            "Estimated value (e.g. €12.500,00)",
            ("value", "estimated value", "deal value", "amount", "deal size", "deal amount", "expected revenue"),
        ),
        Target("value_currency", "Currency (e.g. EUR)", ("currency", "currency code")),
        Target("tags", "Tags (comma-separated)", ("tags", "tag", "labels")),
        Target("do_not_email", "Do not email (yes/no)", ("do not email", "unsubscribed", "opt out", "email opt out")),
        Target("external_id", "Id in your other system", ("id", "prospect id", "lead id", "external id", "record id")),
    ]
}
_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "title": 120,
    "company": 200,
    "industry": 100,
    "country": 60,
    "source": 100,
    "external_id": 100,
}
_STATUS = {
    **{s.value: s.value for s in Lead.Status},
    **{s.label.lower(): s.value for s in Lead.Status},
    "closed won": "won",
    "closed lost": "lost",
    "open": "new",
    "in progress": "working",
}


def _key(header: str) -> str:
    """A column name as compared with synonyms: lower-case letters and digits only
    ("E-mail", "e mail" and "EMAIL" are all "email"; "First_Name" is "firstname")."""
    return re.sub(r"[^0-9a-z]+", "", header.casefold())


def field_for_header(header: str) -> str | None:
    """The lead field a column name stands for ("Email address" → ``email``), or None."""
    return _BY_SYNONYM.get(_key(header)) if header else None


_BY_SYNONYM = {_key(syn): target.name for target in FIELDS.values() for syn in (target.name, *target.synonyms)}


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """A first guess: known names to fields, other named columns to attributes, unnamed ones ignored."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        name = field_for_header(header)
        if not header:
            mapping[str(index)] = IGNORE
        elif name and name not in used:
            mapping[str(index)] = f"field:{name}"
            used.add(name)
        else:
            mapping[str(index)] = f"attribute:{header}"
    return mapping


def validate_mapping(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """The mapping, complete (unmapped columns ignored); ValidationError naming each problem."""
    errors: list[str] = []
    clean: dict[str, str] = {}
    fields_seen: dict[str, str] = {}
    attributes_seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        target = (mapping.get(str(index)) or IGNORE).strip()
        column = header or f"column {index + 1}"
        if target == IGNORE:
            clean[str(index)] = IGNORE
            continue
        kind, _, name = target.partition(":")
        if kind == "field":
            if name not in FIELDS:
                errors.append(f"{column}: '{name}' is not a lead field.")
            elif name in fields_seen:
                errors.append(f"{column}: {FIELDS[name].label} is already mapped from {fields_seen[name]}.")
            fields_seen[name] = column
        elif kind == "attribute":
            name = " ".join(name.split())[:100]
            if not name:
                errors.append(f"{column}: an attribute needs a name.")
            elif name in attributes_seen:
                errors.append(f"{column}: attribute '{name}' is already filled from {attributes_seen[name]}.")
            attributes_seen[name] = column
            target = f"attribute:{name}"
        else:
            errors.append(f"{column}: choose a field, an attribute or ignore.")
        clean[str(index)] = target
    if "value_currency" in fields_seen and "estimated_value" not in fields_seen:
        errors.append("Currency is the currency of the Estimated value: map that column too.")
    if "status" in fields_seen and "won" in fields_seen:
        errors.append("Map either Status or Converted?, not both.")
    if "full_name" in fields_seen and ({"first_name", "last_name"} & set(fields_seen)):
        errors.append("Map either Full name or First/Last name, not both.")
    if not fields_seen and not attributes_seen:
        errors.append("Map at least one column.")
    if errors:
        raise ValidationError({"mapping": errors})
    return clean


# --- cleaning -----------------------------------------------------------------------------------


@dataclass
class CleanRow:
    line: int
    values: list[str]
    fields: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value, message)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def email(self) -> str:
        return self.fields.get("email", "")

    @property
    def external_id(self) -> str:
        return self.fields.get("external_id", "")


def _bool(value: str) -> bool:
    return parse_bool(value)


def _money(value: str) -> dict[str, Any]:
    """An amount, and its currency when the cell names one ("€12.500,00", "12 500,00 €", "USD 90")."""
    amount, currency = parse_money(value)
    return {"estimated_value": _decimal(amount), AMOUNT_CURRENCY: currency}


#: Where the currency written in the value cell waits to be checked against a Currency column.
AMOUNT_CURRENCY = "_amount_currency"


def _decimal(value: str | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    else:
        try:
            number = parse_number(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an amount.") from None
    if number < 0:
        raise ValueError("Use an amount of 0 or more.")
    if number >= Decimal("10000000000"):
        raise ValueError("The amount is too large.")
    return number.quantize(Decimal("0.01"))


def _int(value: str) -> int:
    try:
        number = parse_number(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number.") from None
    if number != number.to_integral_value():
        raise ValueError(f"'{value}' is not a whole number.")
    if number < 0 or number > 100_000_000:
        raise ValueError("Use a number between 0 and 100,000,000.")
    return int(number)


def attribute_value(value: str) -> Any:
    """Numbers as numbers (so rules and the model can compare them); everything else as text."""
    coerced = coerce_attribute(value)
    return value.strip() if coerced is None else coerced


@dataclass
class Plan:
    """A compiled mapping: what to do with each column."""

    headers: list[str]
    columns: list[tuple[int, str, str, str]]  # (index, header, kind, name)
    owners: dict[str, int]

    @classmethod
    def build(cls, headers: list[str], mapping: dict[str, str], *, owners: dict[str, int] | None = None) -> Plan:
        columns = []
        for index, header in enumerate(headers):
            target = mapping.get(str(index), IGNORE)
            if target == IGNORE:
                continue
            kind, _, name = target.partition(":")
            columns.append((index, header or f"Column {index + 1}", kind, name))
        return cls(headers, columns, owners or {})

    @property
    def fields(self) -> set[str]:
        return {name for _, _, kind, name in self.columns if kind == "field"}


def _clean_field(name: str, value: str, plan: Plan) -> dict[str, Any]:
    """Field values from one cell (empty cells give nothing); ValueError with the reason."""
    text = " ".join(value.split()) if name not in {"email"} else value.strip()
    if not text:
        return {}
    if name == "email":
        return {"email": parse_email(text)}
    if name == "full_name":
        first, _, last = text.partition(" ")
        if len(first) > 100 or len(last) > 100:
            raise ValueError("The name is longer than 100 characters.")
        return {"first_name": first, "last_name": last}
    if name == "phone":
        from hitl_crm.contacts.services import phone_normalize

        try:
            return {"phone": phone_normalize(text)}
        except ValidationError as exc:
            raise ValueError(exc.message_dict.get("phone", ["Not a phone number."])[0]) from None
    if name == "employees":
        return {"employees": _int(text)}
    if name == "estimated_value":
        return _money(text)
    if name == "value_currency":
        try:
            return {"value_currency": currency_code(text)}
        except UnknownCurrency:
            raise ValueError(f"'{text}' is not a currency code such as EUR or USD.") from None
    if name == "tags":
        try:
            return {"tags": normalize_tags(text)}
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from None
    if name == "status":
        status = _STATUS.get(text.lower())
        if status is None:
            raise ValueError(f"'{text}' is not a status; use {', '.join(Lead.Status.values)}.")
        return {"status": status}
    if name == "won":
        return {"status": Lead.Status.WON if _bool(text) else Lead.Status.LOST}
    if name == "do_not_email":
        return {"do_not_email": _bool(text)}
    if name == "owner":
        owner = plan.owners.get(text.lower())
        if owner is None:
            raise ValueError(f"No active user '{text}' (use a username or an email address).")
        return {"owner_id": owner}
    limit = _LENGTHS.get(name)
    if limit and len(text) > limit:
        raise ValueError(f"Longer than {limit} characters.")
    return {name: text}


def clean_row(line: int, values: list[str], plan: Plan) -> CleanRow:
    row = CleanRow(line, values)
    value_column = ("", "")
    width = len(plan.headers)
    if len(values) > width and any(v.strip() for v in values[width:]):
        row.errors.append(("", "", f"This line has {len(values)} values but the header has {width} columns."))
        return row
    for index, header, kind, name in plan.columns:
        value = values[index] if index < len(values) else ""
        if kind == "attribute":
            if value.strip():
                row.attributes[name] = attribute_value(value)
            continue
        try:
            row.fields.update(_clean_field(name, value, plan))
        except ValueError as exc:
            row.errors.append((header, value[:255], str(exc)))
        else:
            if name == "estimated_value":
                value_column = (header, value[:255])
    written = row.fields.pop(AMOUNT_CURRENCY, "")
    column = row.fields.get("value_currency", "")
    if written and column and written != column:
        header, value = value_column
        row.errors.append((header, value, f"The amount is in {written} but the currency column says {column}."))
    elif written:
        row.fields["value_currency"] = written
    if not row.errors and not (
        row.fields.get("email")
        or row.fields.get("first_name")
        or row.fields.get("last_name")
        or row.fields.get("company")
        or row.fields.get("external_id")
    ):
        row.errors.append(("", "", "Nothing identifies this lead: give an email, a name, a company or an id."))
    return row

"""Orders in from a CSV file: one order per ``external_id``, one line per row.

Columns (any order, names matched ignoring case, spaces and punctuation): ``external_id``,
``placed_at``, ``customer_email``, ``sku``, ``quantity``, ``unit_price``, ``currency``. Cells are
read by :mod:`hitl_crm.coercion`, the rules every import follows (``1,234.50``, ``12,50``,
``€12,50``, ``2024-03-01 14:30``, ``01.03.2024``, …).

- Every problem names the line, the column, the value and the reason (an unknown SKU, a number
  that is not one, a date that is not one…); the other orders are imported.
- An order is imported whole or not at all: when one of its rows is bad, its other rows are
  reported too ("not imported: line 7 of this order has a problem"), so the fixed file can be
  imported again without leaving a line out.
- Importing is idempotent: an order whose ``external_id`` is already stored is skipped (counted,
  not an error), so importing the same file twice creates nothing the second time.
- A customer e-mail links the order to the contact with that address (the oldest one, if
  several share it); an address no contact has is kept on the order, unlinked.

Needs ``commerce.import_orders``; one audit event per import, in the import's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from approvals.audit import audit_record
from commerce.models import Order, OrderLine, Product
from hitl_crm.coercion import parse_date, parse_email, parse_money, parse_number
from hitl_crm.contacts.models import Contact
from hitl_crm.csvfile import ImportFileError, decode, records, sniff_delimiter
from hitl_crm.money import UnknownCurrency, currency_code
from hitl_crm.permissions import require_permission

if TYPE_CHECKING:
    from django.contrib.auth.models import User

IMPORT_PERMISSION = "commerce.import_orders"
MAX_BYTES = 20 * 1024 * 1024
COLUMNS = ("external_id", "placed_at", "customer_email", "sku", "quantity", "unit_price", "currency")
REQUIRED = frozenset({"external_id", "placed_at", "sku", "quantity", "unit_price"})
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("100000000000")


@dataclass(frozen=True)
class RowError:
    """Why one row was not imported."""

    line: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class OrderImportResult:
    """Every data row is in exactly one of ``imported_rows``, ``skipped_rows`` (its order was
    imported before) and ``failed_rows``; every failed row has at least one error."""

    total_rows: int = 0
    imported_rows: int = 0
    skipped_rows: int = 0
    failed_rows: int = 0
    orders_created: int = 0
    orders_skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "imported_rows": self.imported_rows,
            "skipped_rows": self.skipped_rows,
            "failed_rows": self.failed_rows,
            "orders_created": self.orders_created,
            "orders_skipped": self.orders_skipped,
            "errors": len(self.errors),
        }


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    external_id: str = ""
    placed_at: datetime | None = None
    email: str = ""
    product_id: int | None = None
    quantity: int = 0
    unit_price: Decimal = Decimal(0)
    currency: str = ""
    errors: list[RowError] = field(default_factory=list)

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, self.cells.get(column, "")[:255], message))


# --- reading the file ---------------------------------------------------------------------------


def _text_of(file_or_text: str | bytes | IO[Any]) -> str:
    data: Any = file_or_text.read() if hasattr(file_or_text, "read") else file_or_text
    if not isinstance(data, str | bytes | bytearray):
        raise TypeError("file_or_text must be text, bytes or a file.")
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."})
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return decode(bytes(data))[0]
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, values)`` for each non-blank record (1-based line numbers, the header first)."""
    try:
        yield from records(text, sniff_delimiter(text))
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None


def _key(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", header.replace("\ufeff", "").casefold())


_BY_KEY = {_key(name): name for name in COLUMNS}


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _BY_KEY.get(_key(raw))
        if name and name not in found:
            found[name] = index
    missing = [name for name in COLUMNS if name in REQUIRED and name not in found]
    if missing:
        raise ValidationError({"file": f"The file has no {', '.join(missing)} column (it needs {', '.join(COLUMNS)})."})
    return found


# --- cleaning one row ---------------------------------------------------------------------------


def _placed_at(text: str) -> datetime:
    """A date, or a date and time (ISO 8601); a time without an offset is in the site's time zone."""
    moment: datetime | None = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{text}' is not a date; write it as YYYY-MM-DD or YYYY-MM-DD HH:MM.") from None
    if moment is None:
        moment = datetime.combine(parse_date(text), time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _quantity(text: str) -> int:
    try:
        number = parse_number(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a whole number.") from None
    if number != number.to_integral_value():
        raise ValueError(f"'{text}' is not a whole number.")
    if number <= 0:
        raise ValueError("The quantity must be 1 or more.")
    if number > MAX_QUANTITY:
        raise ValueError(f"The quantity must be at most {MAX_QUANTITY:,}.")
    return int(number)


def _clean(line: int, values: list[str], columns: dict[str, int], products: dict[str, int]) -> _Row:
    cells = {name: (values[index].strip() if index < len(values) else "") for name, index in columns.items()}
    row = _Row(line, cells)
    for name in sorted(REQUIRED, key=COLUMNS.index):
        if not cells.get(name):
            row.fail(name, f"The {name} is missing.")
    if row.errors:
        return row
    row.external_id = cells["external_id"]
    if len(row.external_id) > 100:
        row.fail("external_id", "Longer than 100 characters.")
    try:
        row.placed_at = _placed_at(cells["placed_at"])
    except ValueError as exc:
        row.fail("placed_at", str(exc))
    if cells.get("customer_email"):
        try:
            row.email = parse_email(cells["customer_email"])
        except ValueError as exc:
            row.fail("customer_email", str(exc))
    product_id = products.get(cells["sku"])
    if product_id is None:
        row.fail("sku", f"No product has the SKU '{cells['sku'][:64]}'.")
    row.product_id = product_id
    try:
        row.quantity = _quantity(cells["quantity"])
    except ValueError as exc:
        row.fail("quantity", str(exc))
    column_currency = ""
    if cells.get("currency"):
        try:
            column_currency = currency_code(cells["currency"])
        except UnknownCurrency:
            row.fail("currency", f"'{cells['currency']}' is not a currency code such as EUR or USD.")
            return row
    try:
        amount, written = parse_money(cells["unit_price"], default_currency=column_currency)
    except ValueError as exc:
        row.fail("unit_price", str(exc))
        return row
    if column_currency and written != column_currency:
        row.fail("unit_price", f"The price is in {written} but the currency column says {column_currency}.")
    elif not written:
        row.fail("currency", "The currency is missing (give a currency column or write it with the price).")
    elif amount < 0:
        row.fail("unit_price", "Use a price of 0 or more.")
    elif amount >= MAX_AMOUNT:
        row.fail("unit_price", "The price is too large.")
    row.unit_price, row.currency = amount, written
    return row


def _check_order(rows: list[_Row]) -> None:
    """The rows of one order must agree on when, who and in what currency (the first row decides)."""
    first = rows[0]
    for row in rows[1:]:
        if row.placed_at != first.placed_at:
            row.fail("placed_at", f"Line {first.line} gives this order another date and time.")
        if row.email != first.email:
            row.fail("customer_email", f"Line {first.line} gives this order another customer.")
        if row.currency != first.currency:
            row.fail("currency", f"Line {first.line} gives this order another currency ({first.currency}).")


def _contacts(emails: set[str]) -> dict[str, Contact]:
    if not emails:
        return {}
    found: dict[str, Contact] = {}
    for contact in Contact.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails).order_by("id"):
        found.setdefault(contact.email.lower(), contact)
    return found


# --- the service --------------------------------------------------------------------------------


@transaction.atomic
def orders_import_csv(*, actor: User, file_or_text: str | bytes | IO[Any], file_name: str = "") -> OrderImportResult:
    """Import the orders in a CSV file (text, bytes or an uploaded file) and report every bad row.

    ``ValidationError`` (nothing imported) when the file cannot be read or lacks a required
    column; ``PermissionDenied`` without ``commerce.import_orders``.
    """
    require_permission(actor, IMPORT_PERMISSION, message="You may not import orders.")
    text = _text_of(file_or_text)
    if not text.strip():
        raise ValidationError({"file": "The file is empty."})
    found = _records(text)
    header = next(found, None)
    if header is None:
        raise ValidationError({"file": "The file has no header line."})
    columns = _columns(header[1])
    raw_rows = list(found)
    if not raw_rows:
        raise ValidationError({"file": "The file has a header but no rows."})

    index = columns["sku"]
    skus = {values[index].strip() for _, values in raw_rows if index < len(values)}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))

    result = OrderImportResult(total_rows=len(raw_rows))
    by_order: dict[str, list[_Row]] = {}
    for line, values in raw_rows:
        row = _clean(line, values, columns, products)
        if row.external_id and not any(e.column == "external_id" for e in row.errors):
            by_order.setdefault(row.external_id, []).append(row)
        else:
            result.failed_rows += 1
            result.errors.extend(row.errors)

    existing = set(Order.objects.filter(external_id__in=by_order).values_list("external_id", flat=True))
    contacts = _contacts({row.email for rows in by_order.values() for row in rows if row.email})
    to_create: list[tuple[Order, list[_Row]]] = []
    for external_id, rows in by_order.items():
        if external_id in existing:
            result.orders_skipped += 1
            result.skipped_rows += len(rows)
            continue
        _check_order(rows)
        bad = [row for row in rows if row.errors]
        if bad:
            result.failed_rows += len(rows)
            for row in rows:
                if row.errors:
                    result.errors.extend(row.errors)
                else:
                    result.errors.append(
                        RowError(
                            row.line,
                            "",
                            "",
                            f"Not imported: line {bad[0].line} of order {external_id[:100]} has a problem.",
                        )
                    )
            continue
        first = rows[0]
        assert first.placed_at is not None
        contact = contacts.get(first.email) if first.email else None
        order = Order(
            external_id=external_id,
            contact=contact,
            customer_email=first.email,
            placed_at=first.placed_at,
            currency=first.currency,
            source=Order.Source.CSV,
        )
        to_create.append((order, rows))

    lines: list[OrderLine] = []
    for order, rows in to_create:
        try:
            with transaction.atomic():  # a savepoint: another import may have stored this order meanwhile
                order.save(force_insert=True)
        except IntegrityError:
            result.orders_skipped += 1
            result.skipped_rows += len(rows)
            continue
        result.orders_created += 1
        result.imported_rows += len(rows)
        for row in rows:
            assert row.product_id is not None  # a row without a product has an error and is not here
            lines.append(
                OrderLine(order=order, product_id=row.product_id, quantity=row.quantity, unit_price=row.unit_price)
            )
    OrderLine.objects.bulk_create(lines, batch_size=1000)
    result.errors.sort(key=lambda e: e.line)

    audit_record(
        verb="orders.imported",
        actor=actor,
        data={"file": (file_name or "orders.csv")[:255], **result.as_json()},
    )
    return result

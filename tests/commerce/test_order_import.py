"""Orders in from a CSV file: good rows imported, bad rows reported, re-imports create nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from approvals.models import AuditEvent
from commerce.models import Order, OrderLine
from commerce.services import orders_import_csv
from tests.commerce.factories import ProductFactory
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,placed_at,customer_email,sku,quantity,unit_price,currency\r\n"
GOOD = (
    HEADER + "NW-1,2025-03-03 10:15,Ana@Customer.example,MUG,2,12.50,EUR\r\n"
    'NW-1,2025-03-03 10:15,Ana@Customer.example,CUP,1,"4,90",EUR\r\n'
    "NW-2,04.03.2025,,MUG,1,€12.50,\r\n"
)


@pytest.fixture
def importer():
    user = UserFactory(username="importer")
    user.user_permissions.add(Permission.objects.get(codename="import_orders", content_type__app_label="commerce"))
    return user


@pytest.fixture(autouse=True)
def products():
    return {"MUG": ProductFactory(sku="MUG"), "CUP": ProductFactory(sku="CUP")}


def test_a_good_file_creates_one_order_per_external_id_with_its_lines(importer, products):
    contact = ContactFactory(email="ana@customer.example")

    result = orders_import_csv(actor=importer, file_or_text=GOOD)

    assert (result.total_rows, result.imported_rows, result.failed_rows, result.errors) == (3, 3, 0, [])
    assert result.orders_created == 2
    first = Order.objects.get(external_id="NW-1")
    assert first.contact == contact
    assert first.customer_email == "ana@customer.example"
    assert first.placed_at == datetime(2025, 3, 3, 10, 15, tzinfo=timezone.get_current_timezone())
    assert first.source == Order.Source.CSV
    assert sorted((line.product.sku, line.quantity, line.unit_price) for line in first.lines.all()) == [
        ("CUP", 1, Decimal("4.900")),
        ("MUG", 2, Decimal("12.500")),
    ]
    second = Order.objects.get(external_id="NW-2")
    assert second.contact is None
    assert second.currency == "EUR"  # from the price cell
    assert timezone.localtime(second.placed_at).date() == date(2025, 3, 4)


def test_bad_rows_are_reported_with_their_line_and_reason_and_the_rest_is_imported(importer):
    text = (
        HEADER + "NW-1,2025-03-03,,MUG,2,12.50,EUR\r\n"  # line 2: fine
        "NW-2,2025-03-03,,NOPE,1,12.50,EUR\r\n"  # line 3: unknown SKU
        "NW-3,2025-03-03,,MUG,lots,12.50,EUR\r\n"  # line 4: not a number
        "NW-4,yesterday,,MUG,1,12.50,EUR\r\n"  # line 5: not a date
        "NW-5,2025-03-03,,MUG,1,twelve,EUR\r\n"  # line 6: not a price
        "NW-6,2025-03-03,,MUG,0,12.50,EUR\r\n"  # line 7: zero quantity
        "NW-7,2025-03-03,,CUP,1,4.90,EUR\r\n"  # line 8: fine
    )

    result = orders_import_csv(actor=importer, file_or_text=text)

    assert set(Order.objects.values_list("external_id", flat=True)) == {"NW-1", "NW-7"}
    assert (result.imported_rows, result.failed_rows, result.skipped_rows) == (2, 5, 0)
    reported = {(e.line, e.column): e for e in result.errors}
    assert set(reported) == {(3, "sku"), (4, "quantity"), (5, "placed_at"), (6, "unit_price"), (7, "quantity")}
    assert "NOPE" in reported[3, "sku"].message
    assert reported[4, "quantity"].value == "lots"
    assert "not a whole number" in reported[4, "quantity"].message
    assert "not a date" in reported[5, "placed_at"].message
    assert str(reported[3, "sku"]).startswith("line 3, sku:")


def test_an_order_with_one_bad_line_is_kept_out_whole_so_the_fixed_file_imports_it(importer):
    broken = HEADER + "NW-1,2025-03-03,,MUG,2,12.50,EUR\r\nNW-1,2025-03-03,,NOPE,1,4.90,EUR\r\n"

    result = orders_import_csv(actor=importer, file_or_text=broken)

    assert not Order.objects.exists()
    assert result.failed_rows == 2
    assert [(e.line, e.column) for e in result.errors] == [(2, ""), (3, "sku")]
    assert "line 3" in result.errors[0].message

    fixed = broken.replace("NOPE", "CUP")
    result = orders_import_csv(actor=importer, file_or_text=fixed)
    assert result.orders_created == 1
    assert OrderLine.objects.filter(order__external_id="NW-1").count() == 2


def test_rows_of_one_order_must_agree_on_its_currency(importer):
    text = HEADER + "NW-1,2025-03-03,,MUG,2,12.50,EUR\r\nNW-1,2025-03-03,,CUP,1,4.90,USD\r\n"
    result = orders_import_csv(actor=importer, file_or_text=text)
    assert not Order.objects.exists()
    assert (3, "currency") in {(e.line, e.column) for e in result.errors}


def test_importing_the_same_file_again_creates_nothing(importer):
    orders_import_csv(actor=importer, file_or_text=GOOD)
    counts = (Order.objects.count(), OrderLine.objects.count())

    again = orders_import_csv(actor=importer, file_or_text=GOOD.encode("utf-8"))

    assert (Order.objects.count(), OrderLine.objects.count()) == counts == (2, 3)
    assert (again.orders_created, again.orders_skipped, again.skipped_rows, again.errors) == (0, 2, 3, [])


def test_an_uploaded_file_with_semicolons_and_a_bom_is_read(importer):
    data = "\ufeff" + GOOD.replace(",", ";").replace('"4;90"', "4,90")
    upload = SimpleUploadedFile("orders.csv", data.encode("utf-8"), content_type="text/csv")
    result = orders_import_csv(actor=importer, file_or_text=upload)
    assert result.orders_created == 2
    assert OrderLine.objects.get(product__sku="CUP").unit_price == Decimal("4.90")


def test_a_file_without_a_required_column_is_refused_whole(importer):
    with pytest.raises(ValidationError) as exc:
        orders_import_csv(actor=importer, file_or_text="external_id,sku\r\nNW-1,MUG\r\n")
    assert "placed_at" in str(exc.value)
    assert not AuditEvent.objects.filter(verb="orders.imported").exists()


def test_a_user_without_the_permission_is_refused_and_nothing_is_imported():
    someone = UserFactory(username="someone")
    with pytest.raises(PermissionDenied):
        orders_import_csv(actor=someone, file_or_text=GOOD)
    assert not Order.objects.exists()
    assert not AuditEvent.objects.filter(verb="orders.imported").exists()


def test_the_manager_role_may_import(manager):
    assert orders_import_csv(actor=manager, file_or_text=GOOD).orders_created == 2


def test_each_import_writes_one_audit_event_with_its_counts(importer):
    orders_import_csv(actor=importer, file_or_text=GOOD, file_name="march.csv")

    events = list(AuditEvent.objects.filter(verb="orders.imported"))
    assert len(events) == 1
    event = events[0]
    assert event.actor == importer
    assert event.data["file"] == "march.csv"
    assert event.data["orders_created"] == 2
    assert event.data["imported_rows"] == 3

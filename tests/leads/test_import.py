"""CSV import: mapping, bad rows, encodings, duplicates, a big file, the error report."""

from __future__ import annotations

import csv
import io
import random

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import csv_parsing
from leads.models import Lead, LeadImport, LeadImportError
from leads.services import lead_import_create, lead_import_error_report, lead_import_run, lead_import_start
from tests.factories import ContactFactory
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def importer(manager):
    """Imports are made for a person who may import leads: here the manager."""
    return manager


def _importer():
    return get_user_model().objects.get(username="manager")


def run_import(data: bytes, mapping: dict[str, str] | None = None, **options) -> LeadImport:
    imp = lead_import_create(actor=_importer(), file_name="leads.csv", data=data)
    imp = lead_import_start(actor=_importer(), lead_import=imp, mapping=mapping or imp.mapping, run=False, **options)
    return lead_import_run(import_id=imp.pk)


def accounted_for(imp: LeadImport) -> bool:
    """Every row is in exactly one count, and every row not imported has a reason."""
    not_imported = imp.skipped_rows + imp.failed_rows
    lines_with_errors = LeadImportError.objects.filter(lead_import=imp).values("line").distinct().count()
    return (
        imp.processed_rows == imp.total_rows
        and imp.created_rows + imp.updated_rows + not_imported == imp.total_rows
        and lines_with_errors == not_imported
    )


GOOD_AND_BAD = (
    "Email,First Name,Last Name,Company,Employees,Lead Source,Status,Budget\r\n"
    "ana@acme.example,Ana,Silva,Acme,250,Referral,working,12000\r\n"
    "not-an-email,Bo,Berg,Berg AB,12,Web form,new,\r\n"
    "cy@cyco.example,Cy,Young,Cyco,lots,Web form,new,500\r\n"
    "di@dico.example,Di,Diaz,Dico,40,Partner,maybe,\r\n"
    ",,,,,Web form,,\r\n"
    "ed@edco.example,Ed,Eads,Edco,7,Trade show,qualified,900,surprise\r\n"
    'fay@fayco.example,Fay,Fox,Fayco,"1,200",Referral,won,=HYPERLINK("http://evil")\r\n'
)


def test_good_rows_are_imported_and_every_bad_row_is_reported_with_column_and_reason():
    # when
    imp = run_import(GOOD_AND_BAD.encode())
    # then the two good rows are leads, with fields and attributes where they were mapped
    assert imp.status == LeadImport.Status.DONE
    assert (imp.total_rows, imp.created_rows, imp.failed_rows, imp.skipped_rows) == (7, 2, 5, 0)
    ana = Lead.objects.get(email="ana@acme.example")
    assert (ana.first_name, ana.company, ana.employees, ana.source, ana.status) == (
        "Ana",
        "Acme",
        250,
        "Referral",
        "working",
    )
    assert ana.attributes == {"Budget": 12000}
    fay = Lead.objects.get(email="fay@fayco.example")
    assert fay.employees == 1200
    assert fay.status == "won"
    assert fay.closed_at is not None
    # and each bad line says which column was wrong and why
    errors = {(e.line, e.column): e.message for e in imp.errors.all()}
    assert errors[(3, "Email")] == "'not-an-email' is not an email address."
    assert errors[(4, "Employees")] == "'lots' is not a whole number."
    assert errors[(5, "Status")].startswith("'maybe' is not a status")
    assert errors[(6, "")].startswith("Nothing identifies this lead")
    assert errors[(7, "")] == "This line has 9 values but the header has 8 columns."
    assert accounted_for(imp)


def test_the_error_report_has_the_original_rows_and_defuses_formulas():
    imp = run_import(
        GOOD_AND_BAD.replace("fay@fayco.example", "fay-at-fayco").encode(),
    )
    report = list(csv.reader(io.StringIO(lead_import_error_report(lead_import=imp))))
    assert report[0][:5] == ["line", "column", "value", "error", "duplicate"]
    assert report[0][5:] == imp.headers
    by_line = {row[0]: row for row in report[1:]}
    assert by_line["3"][5] == "not-an-email"
    assert by_line["8"][12] == '\'=HYPERLINK("http://evil")'  # stays text in a spreadsheet


def test_windows_1252_files_are_read_and_say_so():
    data = "Email,First Name,Company\r\nrene@cafe.example,René,Café Müller – Köln\r\n".encode("cp1252")
    imp = run_import(data)
    assert imp.encoding == "Windows-1252"
    lead = Lead.objects.get(email="rene@cafe.example")
    assert (lead.first_name, lead.company) == ("René", "Café Müller – Köln")


def test_utf8_with_a_bom_keeps_the_first_header_clean():
    data = "\ufeffEmail,First Name\nzoë@example.com,Zoë\n".encode()
    imp = lead_import_create(actor=_importer(), file_name="bom.csv", data=data)
    assert imp.encoding == "UTF-8 (with BOM)"
    assert imp.headers == ["Email", "First Name"]
    assert imp.mapping == {"0": "field:email", "1": "field:first_name"}


def test_bytes_that_are_neither_utf8_nor_cp1252_fall_back_to_latin1():
    data = b"Email,Company\r\nx@example.com,Caf\xe9 \x81\r\n"
    imp = run_import(data)
    assert imp.encoding == "Latin-1 (ISO-8859-1)"
    assert Lead.objects.get(email="x@example.com").company == "Café \x81"


def test_utf16_and_semicolons_as_excel_writes_them():
    data = "Email;Company;Employees\r\nu16@example.com;Ünïcode GmbH;30\r\n".encode("utf-16")
    imp = run_import(data)
    assert (imp.encoding, imp.delimiter) == ("UTF-16", ";")
    assert Lead.objects.get(email="u16@example.com").employees == 30


def test_amounts_written_the_german_or_french_way_keep_their_value():
    # given a semicolon file as European spreadsheets write it: "12.500,00" is twelve thousand five hundred
    data = (
        b"Email;Employees;Deal value;Revenue\r\n"
        b"de@example.de;1200;12.500,00;1.234.567,89\r\n"
        b"fr@example.fr;45;1 234,50;\r\n"
    )
    # when
    imp = run_import(data)
    # then neither amount shrinks to 12.50 or 1.23, and the attribute is a number rules can compare
    assert (imp.created_rows, imp.failed_rows) == (2, 0)
    de = Lead.objects.get(email="de@example.de")
    assert (str(de.estimated_value), de.employees, de.attributes["Revenue"]) == ("12500.00", 1200, 1234567.89)
    fr = Lead.objects.get(email="fr@example.fr")
    assert (str(fr.estimated_value), fr.employees) == ("1234.50", 45)


def test_trailing_commas_and_crlf_add_no_empty_column():
    data = b"Prospect ID,Lead Source,Converted,\r\nP-1,Google,1,\r\nP-2,Olark Chat,0,\r\n"
    imp = lead_import_create(actor=_importer(), file_name="x.csv", data=data)
    assert imp.headers == ["Prospect ID", "Lead Source", "Converted", ""]
    assert imp.mapping == {"0": "field:external_id", "1": "field:source", "2": "field:won", "3": "ignore"}
    imp = lead_import_start(actor=_importer(), lead_import=imp, mapping=imp.mapping, run=False)
    imp = lead_import_run(import_id=imp.pk)
    assert imp.created_rows == 2
    assert dict(Lead.objects.values_list("external_id", "status")) == {"P-1": "won", "P-2": "lost"}


def test_files_that_are_not_csv_are_refused_at_upload():
    with pytest.raises(ValidationError, match="binary file"):
        lead_import_create(actor=_importer(), file_name="x.xlsx", data=b"PK\x03\x04\x00\x00\x00binary")
    with pytest.raises(ValidationError, match="no rows"):
        lead_import_create(actor=_importer(), file_name="x.csv", data=b"Email,Name\r\n")


def test_duplicates_in_the_file_and_in_the_database_are_reported_not_imported_twice():
    # given an existing lead
    existing = LeadFactory(email="old@example.com", company="Old Co", attributes={"Tier": "gold"})
    data = (
        b"Email,Company,Plan\n"
        b"new@example.com,New Co,basic\n"
        b"NEW@example.com,New Co again,pro\n"
        b"old@example.com,Old Co renamed,pro\n"
    )
    # when
    imp = run_import(data)
    # then
    assert (imp.created_rows, imp.skipped_rows, imp.updated_rows) == (1, 2, 0)
    messages = dict(imp.errors.values_list("line", "message"))
    assert messages[3] == "Same email as line 2 of this file; not imported twice."
    assert messages[4].startswith(f"A lead with this email already exists (lead #{existing.pk})")
    assert Lead.objects.filter(email="new@example.com").get().company == "New Co"
    assert Lead.objects.get(pk=existing.pk).company == "Old Co"
    assert accounted_for(imp)


def test_update_existing_updates_given_fields_and_merges_attributes(sales_rep):
    existing = LeadFactory(email="old@example.com", company="Old Co", employees=10, attributes={"Tier": "gold"})
    other = LeadFactory(email="two@example.com", company="Two Co", employees=70, owner=sales_rep, status="won")
    data = b"Email,Company,Employees,Plan,Status\nold@example.com,Old Co Ltd,,pro,\ntwo@example.com,,90,,working\n"
    imp = run_import(data, update_existing=True)
    assert (imp.created_rows, imp.updated_rows, imp.skipped_rows) == (0, 2, 0)
    existing.refresh_from_db()
    other.refresh_from_db()
    assert existing.company == "Old Co Ltd"
    assert existing.employees == 10  # an empty cell does not erase what we know…
    assert other.company == "Two Co"  # …even when another row of the file fills that column
    assert (other.employees, other.owner, other.status, other.closed_at) == (90, sales_rep, "working", None)
    assert existing.attributes == {"Tier": "gold", "Plan": "pro"}
    assert existing.lead_import == imp
    assert Lead.objects.count() == 2


def test_imported_leads_link_to_existing_contacts_and_get_scored(on_commit):
    contact = ContactFactory(email="known@customer.example")
    ScoringRuleFactory(name="Referral", points=10)
    with on_commit():
        imp = run_import(b"Email,Source\nknown@customer.example,Referral\n")
    lead = Lead.objects.get(lead_import=imp)
    assert lead.contact == contact
    assert (lead.score, lead.tier) == (100, "A")
    assert lead.score_factors == [{"label": "Referral", "value": 10, "kind": "rule"}]


def test_a_mapping_that_maps_a_field_twice_is_refused():
    imp = lead_import_create(actor=_importer(), file_name="x.csv", data=b"Mail,E-mail\na@x.example,b@x.example\n")
    with pytest.raises(ValidationError) as error:
        lead_import_start(
            actor=_importer(), lead_import=imp, mapping={"0": "field:email", "1": "field:email"}, run=False
        )
    assert "Email is already mapped from Mail" in str(error.value)
    assert LeadImport.objects.get(pk=imp.pk).status == LeadImport.Status.UPLOADED


def test_a_second_run_of_the_same_import_changes_nothing():
    imp = run_import(GOOD_AND_BAD.encode())
    again = lead_import_run(import_id=imp.pk)
    assert (again.created_rows, again.failed_rows) == (imp.created_rows, imp.failed_rows)
    assert Lead.objects.count() == 2


def test_a_redelivered_run_resumes_after_the_last_committed_chunk(settings):
    # given a run that committed its first chunk of 3 rows, then its worker died
    settings.HITL_CRM_LEADS_IMPORT_CHUNK_SIZE = 3
    rows = "".join(f"p{i}@example.com,P{i}\n" for i in range(8))
    imp = lead_import_create(actor=_importer(), file_name="x.csv", data=f"Email,Company\n{rows}".encode())
    imp = lead_import_start(actor=_importer(), lead_import=imp, mapping=imp.mapping, run=False)
    original = csv_parsing.data_rows

    def die_after_first_chunk(*args, **kwargs):
        rows = original(*args, **kwargs)
        return rows[:3]

    csv_parsing.data_rows = die_after_first_chunk
    try:
        lead_import_run(import_id=imp.pk)
    finally:
        csv_parsing.data_rows = original
    LeadImport.objects.filter(pk=imp.pk).update(status=LeadImport.Status.RUNNING, finished_at=None)
    assert LeadImport.objects.get(pk=imp.pk).processed_rows == 3
    # when the task is delivered again
    imp = lead_import_run(import_id=imp.pk)
    # then the remaining rows are imported once
    assert (imp.status, imp.processed_rows, imp.created_rows) == ("done", 8, 8)
    assert Lead.objects.count() == 8


def test_ten_thousand_rows_import_in_bulk(settings):
    # given 10,000 rows, 2% with a bad email and 1% repeating an earlier email
    rng = random.Random(5)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["Email", "First Name", "Last Name", "Company", "Employees", "Lead Source", "Total Visits", "City", ""]
    )
    bad = dup = 0
    for i in range(10_000):
        if i % 50 == 7:
            email, bad = f"broken{i}.example.com", bad + 1
        elif i % 100 == 13:
            email, dup = f"lead{i - 1}@bulk.example", dup + 1
        else:
            email = f"lead{i}@bulk.example"
        writer.writerow(
            [
                email,
                "Sam",
                f"Lee{i}",
                f"Company {i % 700}",
                rng.randint(1, 5000),
                rng.choice(["Google", "Referral", "Olark Chat"]),
                rng.randint(0, 30),
                "Mumbai",
                "",
            ]
        )
    data = out.getvalue().encode()
    # when
    with CaptureQueriesContext(connection) as queries:
        imp = run_import(data)
    # then every row is accounted for, through a bounded number of statements (bulk, not per row)
    assert (imp.total_rows, imp.created_rows, imp.failed_rows, imp.skipped_rows) == (
        10_000,
        10_000 - bad - dup,
        bad,
        dup,
    )
    assert accounted_for(imp)
    # (SQLite caps an INSERT at 999 parameters, ~26 leads; PostgreSQL takes 500 per statement)
    assert len(queries) < 1000, f"{len(queries)} queries for 10,000 rows"
    assert Lead.objects.filter(attributes__City="Mumbai").count() == imp.created_rows
    # and the error report a person downloads names each line left out, with the value and why
    report = list(csv.reader(io.StringIO(lead_import_error_report(lead_import=imp))))
    by_line = {row[0]: row for row in report[1:]}
    assert len(by_line) == bad + dup
    # row 7 (line 9, after the header) has a bad email; row 13 (line 15) repeats row 12's email
    assert by_line["9"][1:5] == ["Email", "broken7.example.com", "'broken7.example.com' is not an email address.", "no"]
    assert by_line["15"][3:6] == [
        "Same email as line 14 of this file; not imported twice.",
        "yes",
        "lead12@bulk.example",
    ]


def test_the_import_leads_command(tmp_path, capsys):
    path = tmp_path / "leads.csv"
    path.write_bytes(GOOD_AND_BAD.replace("Acme", "Acmé").encode("cp1252"))
    errors = tmp_path / "errors.csv"
    call_command(
        "import_leads",
        str(path),
        "--user",
        "manager",
        "--map",
        "Budget=attribute:Budget ceiling",
        "--errors",
        str(errors),
    )
    out = capsys.readouterr().out
    assert "read as Windows-1252" in out
    assert "2 created, 0 updated, 0 duplicates skipped, 5 failed" in out
    assert Lead.objects.get(email="ana@acme.example").attributes == {"Budget ceiling": 12000}
    assert errors.read_text().count("\n") == 6

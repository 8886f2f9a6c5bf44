"""A rep edits a lead inline (a bad value is refused beside its field, then saved), and imports a
CSV with one bad row: the preview flags it, the progress bar follows the background task to the
end, and the summary says one row was skipped."""

import pytest
from playwright.sync_api import expect

from leads.models import Lead, LeadImport
from leads.tasks import lead_import_run_task
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _leads_urls(settings):
    settings.ROOT_URLCONF = "tests.leads.urls"


@pytest.fixture
def console_errors(page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_a_rep_edits_a_lead_inline(page, live_server, sales_rep, login, console_errors, screenshot):
    lead = LeadFactory(first_name="Hana", last_name="Hot", owner=sales_rep)
    login("rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.click("#edit-lead")
    page.select_option("#id_status", "qualified")
    page.fill("#id_value", "twelve")
    page.fill("#id_tags", "VIP, expo")
    page.click("#details button[type=submit]")
    expect(page.locator("#value-error")).to_have_text("'twelve' is not an amount.")
    expect(page.locator("#id_tags")).to_have_value("VIP, expo")  # nothing typed is lost
    screenshot("lead-inline-edit-error")
    page.set_viewport_size({"width": 390, "height": 844})  # the open form fits a phone
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.set_viewport_size({"width": 1360, "height": 860})
    page.fill("#id_value", "€12.500,00")
    page.click("#details button[type=submit]")
    expect(page.locator("#details")).to_contain_text("Saved.")
    expect(page.locator("#details")).to_contain_text("12,500.00 EUR")
    expect(page.locator("#lead-status")).to_have_text("Qualified")
    lead.refresh_from_db()
    assert (lead.status, lead.value_currency, lead.tags) == ("qualified", "EUR", ["vip", "expo"])
    assert console_errors == []


def test_a_rep_imports_a_csv_with_one_bad_row(page, live_server, sales_rep, login, tmp_path, monkeypatch, screenshot):
    # The request only queues the task, as with a broker; the "worker" below runs it.
    queued: list[int] = []
    monkeypatch.setattr(lead_import_run_task, "delay", lambda import_id: queued.append(import_id))
    path = tmp_path / "expo.csv"
    path.write_text(
        'E-mail,Company name,Deal value\nan@x.example,Aco,"€1.500,00"\nbad-email,Bco,10\nci@x.example,Cco,7\n'
    )
    login("rep")
    page.goto(f"{live_server.url}/leads/imports/")
    page.set_input_files("#id_file", str(path))
    page.click("text=Upload and map columns")
    expect(page.locator("#preview-summary")).to_contain_text("1 of the 3 rows would not be imported")
    expect(page.locator("#preview .preview-bad")).to_contain_text("'bad-email' is not an email address.")
    screenshot("lead-import-preview-flags")
    page.click("text=Import 3 rows")
    expect(page.locator("#progress h2")).to_have_text("Waiting for a worker…")
    assert queued == [LeadImport.objects.get().pk]

    lead_import_run_task.run(queued[0])

    expect(page.locator("#progress h2")).to_have_text("Imported", timeout=10_000)
    expect(page.locator("progress.import-progress")).to_have_attribute("value", "3")
    expect(page.locator("#import-summary")).to_contain_text("2 imported, 1 skipped")
    screenshot("lead-import-summary")
    assert Lead.objects.get(email="an@x.example").value_currency == "EUR"

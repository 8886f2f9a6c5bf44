"""Importing leads on the web: reps may upload, columns are recognised by their usual names, money
keeps its currency, the preview flags every bad row, and the run happens in a background task
that the page follows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.models import Lead, LeadImport
from leads.tasks import lead_import_run_task

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.leads.urls")]
HX = {"HTTP_HX_REQUEST": "true"}


def _upload(client, text: str, name: str = "leads.csv"):
    return client.post(reverse("leads:imports"), {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def _mapping(imp: LeadImport) -> dict[str, str]:
    return {f"col_{index}": target for index, target in imp.mapping.items()}


def test_a_sales_rep_can_upload_leads(client, sales_rep):
    client.force_login(sales_rep)
    assert client.get(reverse("leads:imports")).status_code == 200

    response = _upload(client, "Email,Company\na@x.example,A\n")

    imp = LeadImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("leads:import_detail", args=[imp.pk])
    assert imp.created_by == sales_rep


def test_a_support_agent_cannot_upload_leads(client, support_agent):
    client.force_login(support_agent)
    assert client.get(reverse("leads:imports")).status_code == 403
    assert _upload(client, "Email,Company\na@x.example,A\n").status_code == 403
    assert not LeadImport.objects.exists()


def test_columns_are_recognised_by_their_usual_names(client, manager):
    # given: names as other tools export them, in any case and punctuation
    headers = "E-mail,Company name,Given name,SURNAME,Phone number,Tel.,Organisation,Deal value,Currency,Tags"
    client.force_login(manager)
    _upload(client, headers + "\nan@x.example,Xco,An,Aalto,+14155550123,,,10,EUR,vip\n")

    # then
    imp = LeadImport.objects.get()
    assert imp.mapping == {
        "0": "field:email",
        "1": "field:company",
        "2": "field:first_name",
        "3": "field:last_name",
        "4": "field:phone",
        "5": "attribute:Tel.",  # phone is taken by "Phone number"
        "6": "attribute:Organisation",  # and company by "Company name"
        "7": "field:estimated_value",
        "8": "field:value_currency",
        "9": "field:tags",
    }
    page = client.get(reverse("leads:import_detail", args=[imp.pk])).content.decode()
    assert '<option value="field:email" selected>Email</option>' in page


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Mail", "email"),
        ("Email address", "email"),
        ("e mail", "email"),
        ("Organisation", "company"),
        ("First name", "first_name"),
        ("Last_Name", "last_name"),
        ("Tel", "phone"),
    ],
)
def test_each_synonym_alone_maps_to_its_field(header, field):
    from leads.csv_parsing import suggest_mapping

    assert suggest_mapping([header]) == {"0": f"field:{field}"}


def test_money_in_locale_spellings_is_imported_with_its_currency(client, manager, on_commit, settings):
    # given
    settings.HITL_CRM_LEADS_DEFAULT_CURRENCY = "USD"
    client.force_login(manager)
    _upload(
        client,
        'Email,Value,Currency\nde@x.example,"€12.500,00",\nfr@x.example,"12 500,00 €",\nus@x.example,"1,234.50",\n'
        "gb@x.example,99.5,GBP\nclash@x.example,€10,GBP\n",
    )
    imp = LeadImport.objects.get()

    # when
    with on_commit():
        client.post(reverse("leads:import_detail", args=[imp.pk]), _mapping(imp))

    # then
    values = dict(Lead.objects.values_list("email", "estimated_value"))
    currencies = dict(Lead.objects.values_list("email", "value_currency"))
    assert values == {
        "de@x.example": Decimal("12500.00"),
        "fr@x.example": Decimal("12500.00"),
        "us@x.example": Decimal("1234.50"),
        "gb@x.example": Decimal("99.50"),
    }
    assert currencies == {"de@x.example": "EUR", "fr@x.example": "EUR", "us@x.example": "USD", "gb@x.example": "GBP"}
    [error] = LeadImport.objects.get().errors.all()
    assert (error.line, error.column, error.message) == (
        6,
        "Value",
        "The amount is in EUR but the currency column says GBP.",
    )


def test_the_preview_flags_every_bad_row_with_its_column_and_reason(client, manager):
    # given: eight good rows, then a bad email and a bad amount further down than the sample rows
    rows = [f"r{i}@x.example,Co {i},{i}00" for i in range(8)]
    rows += ["not-an-email,Bad Co,100", "ok@x.example,Fine,lots", "r0@x.example,Again,1"]
    client.force_login(manager)
    _upload(client, "Email,Company,Value\n" + "\n".join(rows) + "\n")
    imp = LeadImport.objects.get()

    # when
    html = client.post(reverse("leads:import_preview", args=[imp.pk]), _mapping(imp), **HX).content.decode()

    # then
    assert "3 of the 11 rows would not be imported" in html
    assert '<td data-label="Line">10</td><td data-label="Column">Email</td>' in html
    assert "&#x27;not-an-email&#x27; is not an email address." in html
    assert '<td data-label="Line">11</td><td data-label="Column">Value</td><td data-label="Value">lots</td>' in html
    assert "Same email as line 2; not imported twice." in html


def test_the_run_is_a_background_task_that_the_page_follows(client, manager, on_commit, monkeypatch):
    # given: a broker is configured, so the task is only queued by the request
    queued: list[int] = []
    monkeypatch.setattr(lead_import_run_task, "delay", lambda import_id: queued.append(import_id))
    client.force_login(manager)
    _upload(client, "Email,Company\na@x.example,A\nbad-email,B\nc@x.example,C\n")
    imp = LeadImport.objects.get()

    # when: the person starts the import
    with on_commit():
        response = client.post(reverse("leads:import_detail", args=[imp.pk]), _mapping(imp))

    # then: the request returned before importing anything; the page polls the progress
    assert response.status_code == 302
    assert queued == [imp.pk]
    assert not Lead.objects.exists()
    waiting = client.get(reverse("leads:import_progress", args=[imp.pk]), **HX).content.decode()
    assert 'hx-trigger="every 1s"' in waiting
    assert '<progress class="import-progress" max="3" value="0"' in waiting
    assert "Waiting for a worker" in waiting

    # when: the worker runs the task
    lead_import_run_task.run(imp.pk)

    # then: the next poll shows the bar full and the summary, and stops polling
    done = client.get(reverse("leads:import_progress", args=[imp.pk]), **HX).content.decode()
    assert '<progress class="import-progress" max="3" value="3"' in done
    assert 'hx-trigger="every 1s"' not in done
    assert "2 imported, 1 skipped" in done
    assert Lead.objects.count() == 2


def test_updating_existing_leads_sets_tags_and_keeps_their_currency(manager):
    from leads.services import lead_import_create, lead_import_run, lead_import_start

    # given: a lead valued in euros
    lead = Lead.objects.create(email="an@x.example", estimated_value=Decimal("10"), value_currency="EUR")
    imp = lead_import_create(
        actor=manager, file_name="u.csv", data=b'Email,Value,Tags\nan@x.example,"2.500,00","VIP, expo"\n'
    )

    # when
    lead_import_start(actor=manager, lead_import=imp, mapping=imp.mapping, update_existing=True, run=False)
    imp = lead_import_run(import_id=imp.pk)

    # then
    lead.refresh_from_db()
    assert imp.updated_rows == 1
    assert (lead.estimated_value, lead.value_currency, lead.tags) == (Decimal("2500.00"), "EUR", ["vip", "expo"])

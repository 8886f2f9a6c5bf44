"""``Lead.search_text``: what the prospects search finds a lead by stays current through every write."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse

from hitl_crm.contacts.services import account_update
from leads.models import Lead
from leads.selectors import lead_list, lead_search
from leads.services import lead_create, lead_import_create, lead_import_run, lead_import_start, lead_update
from tests.factories import AccountFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _found(user, query: str) -> list[int]:
    return sorted(lead_list(user=user, status="all", search=query).values_list("pk", flat=True))


def _import(user, data: bytes, **options):
    imp = lead_import_create(actor=user, file_name="leads.csv", data=data)
    imp = lead_import_start(actor=user, lead_import=imp, mapping=imp.mapping, run=False, **options)
    return lead_import_run(import_id=imp.pk)


def test_a_new_lead_is_found_by_email_fragment_name_and_company_in_any_case(manager):
    # given
    lead = lead_create(
        actor=manager,
        email="ingrid@fjord.example",
        first_name="Ingrid",
        last_name="Larsen",
        company="Fjord Adventure AS",
    )
    LeadFactory(email="someone@else.example", first_name="Bo", last_name="Berg", company="Other Co")

    # when / then
    for query in ("grid@fjo", "INGRID", "larsen", "Fjord Adventure", "fjord.EXAMPLE"):
        assert _found(manager, query) == [lead.pk], query


def test_every_word_must_match(manager):
    # given two people at one company and one elsewhere
    ana = LeadFactory(first_name="Ana", last_name="Silva", company="Acme")
    bo = LeadFactory(first_name="Bo", last_name="Berg", company="Acme")
    LeadFactory(first_name="Ana", last_name="Lopez", company="Globex")

    # when / then
    assert _found(manager, "ana acme") == [ana.pk]
    assert _found(manager, "ACME  berg") == [bo.pk]
    assert _found(manager, "ana globex berg") == []


def test_a_lead_is_found_by_its_linked_accounts_name(manager):
    # given a lead whose company is only its linked account
    account = AccountFactory(name="Nordlys Outdoor")
    lead = lead_create(actor=manager, email="kari@nordlys.example", account=account)

    # then
    assert _found(manager, "nordlys outdoor") == [lead.pk]
    assert [found.pk for found in lead_search(user=manager, query="Outdoor")] == [lead.pk]


def test_renaming_an_account_renames_its_leads_in_search(manager):
    # given
    account = AccountFactory(name="Fjord Adventure")
    leads = [LeadFactory(account=account, company="") for _ in range(2)]
    bystander = LeadFactory(account=AccountFactory(name="Other Co"), company="")

    # when
    account_update(account=account, data={"name": "Nordlys Outdoor"}, actor=manager)

    # then
    assert _found(manager, "nordlys") == sorted(lead.pk for lead in leads)
    assert _found(manager, "fjord") == []
    assert _found(manager, "other co") == [bystander.pk]


def test_an_edit_changes_what_the_lead_is_found_by(manager):
    # given
    lead = LeadFactory(first_name="Ingrid", last_name="Larsen", company="Fjord AS")

    # when
    lead_update(lead=lead, data={"last_name": "Berg", "company": "Nordlys AS"}, actor=manager)

    # then
    assert _found(manager, "berg nordlys") == [lead.pk]
    assert _found(manager, "larsen") == []
    assert _found(manager, "fjord") == []


def test_a_save_of_other_fields_keeps_the_search_text():
    # given
    lead = LeadFactory(first_name="Ingrid")
    Lead.objects.filter(pk=lead.pk).update(search_text="kept as it was")
    lead.refresh_from_db()

    # when
    lead.score = 80
    lead.save(update_fields=["score"])

    # then
    lead.refresh_from_db()
    assert lead.search_text == "kept as it was"


def test_imported_leads_are_found_and_an_import_update_changes_what_they_are_found_by(manager):
    # given an import of two new leads
    _import(
        manager,
        b"Email,First Name,Last Name,Company\r\n"
        b"ana@acme.example,Ana,Silva,Acme Tools\r\n"
        b"cy@cyco.example,Cy,Young,Cyco\r\n",
    )
    ana = Lead.objects.get(email="ana@acme.example")
    cy = Lead.objects.get(email="cy@cyco.example")
    assert _found(manager, "ANA silva") == [ana.pk]
    assert _found(manager, "acme tools") == [ana.pk]
    assert _found(manager, "cyco.example") == [cy.pk]

    # when a later import updates one of them; its linked account stays part of the text
    account = AccountFactory(name="Linked Holding")
    Lead.objects.filter(pk=ana.pk).update(account=account)
    _import(
        manager,
        b"Email,Last Name,Company\r\nana@acme.example,Moreau,Moreau SARL\r\n",
        update_existing=True,
    )

    # then
    assert _found(manager, "moreau sarl") == [ana.pk]
    assert _found(manager, "ana linked holding") == [ana.pk]
    assert _found(manager, "silva") == []
    assert _found(manager, "acme tools") == []


def test_the_prospects_page_finds_by_the_maintained_text(client, sales_rep):
    # given
    LeadFactory(first_name="Ingrid", last_name="Larsen", company="Fjord Adventure", email="ingrid@fjord.example")
    LeadFactory(first_name="Bo", last_name="Berg", company="Other Co", email="bo@other.example")
    client.force_login(sales_rep)

    # when
    page = client.get(reverse("leads:prospects"), {"q": "FJORD larsen"}).content.decode()

    # then
    assert "Ingrid" in page
    assert "Berg" not in page


def test_the_migration_fills_existing_leads():
    # given leads written before the column existed
    with_account = LeadFactory(
        email="a@x.example", first_name="Ada", company="", account=AccountFactory(name="Acme Ltd")
    )
    without = LeadFactory(email="b@x.example", first_name="Bo", company="Bo AB", account=None)
    expected = {lead.pk: Lead.objects.get(pk=lead.pk).search_text for lead in (with_account, without)}
    Lead.objects.update(search_text="")

    # when
    migration = importlib.import_module("leads.migrations.0004_lead_search_text")
    migration.fill(django_apps, type("Editor", (), {"connection": connection})())

    # then they hold what a save would have written
    assert {lead.pk: lead.search_text for lead in Lead.objects.filter(pk__in=expected)} == expected
    assert "acme ltd" in expected[with_account.pk]
    assert "bo ab" in expected[without.pk]

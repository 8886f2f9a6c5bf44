"""``Contact.search_text``: what a contact (and its cases) are found by stays current through every write."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection

from hitl_crm.contacts.models import Contact
from hitl_crm.contacts.selectors import contact_list
from hitl_crm.contacts.services import account_update, contact_create, contact_update
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _found(user, query: str) -> list[int]:
    return list(contact_list(user=user, search=query).values_list("pk", flat=True))


def test_a_new_contact_is_found_by_email_names_title_and_company(manager):
    account = AccountFactory(name="Fjord Adventure AS")
    contact = contact_create(
        actor=manager, email="Ingrid@Fjord.example", first_name="Ingrid", last_name="Larsen", title="Buyer",
        account=account,
    )  # fmt: skip

    for query in ("ingrid@fjord", "LARSEN", "buyer", "fjord adventure"):
        assert _found(manager, query) == [contact.pk], query


def test_an_edit_changes_what_the_contact_is_found_by(manager):
    contact = ContactFactory(first_name="Ingrid", last_name="Larsen")

    contact_update(contact=contact, data={"last_name": "Berg"}, actor=manager)

    assert _found(manager, "berg") == [contact.pk]
    assert _found(manager, "larsen") == []


def test_renaming_an_account_renames_its_people_in_search(manager):

    account = AccountFactory(name="Fjord Adventure")
    people = [ContactFactory(account=account) for _ in range(2)]
    bystander = ContactFactory(account=AccountFactory(name="Other Co"))

    account_update(account=account, data={"name": "Nordlys Outdoor"}, actor=manager)

    assert sorted(_found(manager, "nordlys")) == sorted(p.pk for p in people)
    assert _found(manager, "fjord") == []
    assert _found(manager, "other co") == [bystander.pk]


def test_a_save_of_other_fields_keeps_the_search_text():
    contact = ContactFactory(first_name="Ingrid")
    Contact.objects.filter(pk=contact.pk).update(search_text="kept as it was")
    contact.refresh_from_db()

    contact.save(update_fields=["last_activity_at"])

    contact.refresh_from_db()
    assert contact.search_text == "kept as it was"


def test_the_migration_fills_existing_contacts(manager):
    with_account = ContactFactory(email="a@x.example", first_name="Ada", account=AccountFactory(name="Acme Ltd"))
    without = ContactFactory(email="b@x.example", first_name="Bo", account=None)
    expected = {c.pk: Contact.objects.get(pk=c.pk).search_text for c in (with_account, without)}
    Contact.objects.update(search_text="")  # rows written before the column existed

    migration = importlib.import_module("hitl_crm.contacts.migrations.0003_contact_search_text")
    migration.fill(django_apps, type("Editor", (), {"connection": connection})())

    assert {c.pk: c.search_text for c in Contact.objects.filter(pk__in=expected)} == expected
    assert "acme ltd" in expected[with_account.pk]
    assert "ada" in expected[with_account.pk]

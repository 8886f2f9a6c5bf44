import pytest
from django.core.exceptions import ValidationError

from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.contacts.services import (
    account_create,
    activity_record,
    contact_create,
    contact_unsubscribe,
    contact_update,
    phone_normalize,
)
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_contact_create_normalises_email_and_phone_and_notes_the_timeline():
    # when
    contact = contact_create(
        first_name="Ana", last_name="Lima", email="  Ana.Lima@Example.COM ", phone="(415) 555-0123", email_consent=True
    )
    # then
    assert contact.email == "ana.lima@example.com"
    assert contact.phone == "+14155550123"
    assert contact.consent_at is not None
    assert [a.summary for a in contact.activities.all()] == ["Contact created"]


def test_contact_create_rejects_a_duplicate_email_whatever_its_case():
    ContactFactory(email="dup@example.com")
    with pytest.raises(ValidationError) as excinfo:
        contact_create(email="DUP@example.com", last_name="Again")
    assert "already exists" in excinfo.value.message_dict["email"][0]
    assert Contact.objects.filter(email__iexact="dup@example.com").count() == 1


@pytest.mark.parametrize("raw", ["not a phone", "123", "+1 000"])
def test_phone_normalize_names_the_bad_number(raw):
    with pytest.raises(ValidationError) as excinfo:
        phone_normalize(raw)
    assert raw in excinfo.value.message_dict["phone"][0]


def test_phone_normalize_reads_international_numbers():
    assert phone_normalize("+44 20 7946 0958") == "+442079460958"


def test_contact_update_records_what_changed(sales_rep):
    contact = ContactFactory(title="Buyer")
    contact_update(contact=contact, data={"title": "Head buyer"}, actor=sales_rep)
    latest = contact.activities.first()
    assert latest.summary == "Updated title"
    assert latest.data == {"changed": ["title"]}


def test_contact_update_without_a_change_writes_nothing(sales_rep):
    contact = ContactFactory(title="Buyer")
    contact_update(contact=contact, data={"title": "Buyer"}, actor=sales_rep)
    assert contact.activities.count() == 0


def test_contact_update_refuses_unknown_fields(sales_rep):
    contact = ContactFactory()
    with pytest.raises(ValidationError) as excinfo:
        contact_update(contact=contact, data={"last_activity_at": None}, actor=sales_rep)
    assert "last_activity_at" in excinfo.value.message_dict


def test_unsubscribe_withdraws_consent_once():
    contact = ContactFactory(email_consent=True)
    first = contact_unsubscribe(contact=contact).unsubscribed_at
    again = contact_unsubscribe(contact=contact).unsubscribed_at
    contact.refresh_from_db()
    assert first == again
    assert not contact.can_receive_marketing
    assert contact.activities.filter(summary="Unsubscribed from email").count() == 1


def test_activity_record_moves_last_activity_forward_only():
    contact = ContactFactory()
    newer = activity_record(contact=contact, kind="call", summary="Called")
    from datetime import timedelta

    activity_record(
        contact=contact, kind="note", summary="Back-dated", occurred_at=newer.occurred_at - timedelta(days=3)
    )
    contact.refresh_from_db()
    assert contact.last_activity_at == newer.occurred_at


def test_activity_record_rejects_unknown_kinds():
    with pytest.raises(ValidationError) as excinfo:
        activity_record(contact=ContactFactory(), kind="telepathy", summary="?")
    assert "telepathy" in excinfo.value.message_dict["kind"][0]
    assert Activity.objects.count() == 0


def test_account_domain_is_unique_case_insensitively(sales_rep):
    AccountFactory(domain="acme.example")
    with pytest.raises(ValidationError) as excinfo:
        account_create(name="Acme again", domain="ACME.example", actor=sales_rep)
    assert "acme.example" in excinfo.value.message_dict["domain"][0]

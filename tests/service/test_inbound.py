"""Inbound mail: parsing, threading, duplicates, unknown senders, and the inbound API."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.core import mail
from rest_framework.test import APIClient

from hitl_crm.contacts.models import Contact
from service.inbound import MalformedMail, normalise_subject, parse_eml
from service.models import Case, Message
from tests.factories import ContactFactory

CUSTOMER = "olivia@trailhead.example"


def eml(
    *,
    sender: str = f"Olivia Andersen <{CUSTOMER}>",
    subject: str = "Where is my order?",
    body: str | None = "Hi, where is order NW-1001?",
    html: str | None = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = "Northwind Support <support@northwind.example>"
    message["Subject"] = subject
    message["Date"] = "Fri, 20 Nov 2026 09:30:00 +0100"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if body is not None:
        message.set_content(body)
    if html is not None:
        if body is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return bytes(message)


# --- parsing ---------------------------------------------------------------------------------


def test_a_reply_is_parsed_into_its_new_text_and_threading_headers():
    raw = eml(
        subject="RE: Fwd: Where is my order?",
        body="It arrived, thanks!\n\nOn Thu, 19 Nov 2026, Support wrote:\n> Your parcel is on its way.",
        Message_ID="<r2@mail.trailhead.example>",
        In_Reply_To="<r1@northwind.example>",
        References="<r0@mail.trailhead.example> <r1@northwind.example>",
    )

    mail = parse_eml(raw)

    assert (mail.sender, mail.sender_name) == (CUSTOMER, "Olivia Andersen")
    assert mail.body == "It arrived, thanks!"
    assert mail.message_id == "<r2@mail.trailhead.example>"
    assert mail.thread_ids == ["<r1@northwind.example>", "<r0@mail.trailhead.example>"]
    assert mail.sent_at.isoformat() == "2026-11-20T09:30:00+01:00"
    assert normalise_subject(mail.subject) == "where is my order?"


def test_html_only_mail_is_read_as_text():
    mail = parse_eml(eml(body=None, html="<p>Hello<br>my <b>zip</b> broke &amp; I need help</p>"))

    assert mail.body == "Hello\nmy zip broke & I need help"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (eml(sender=""), "from"),
        (eml(sender="Olivia <not-an-address>"), "from"),
        (eml(body=" \n "), "body"),
        (eml(Message_ID="no angle brackets or at sign"), "message_id"),
        (b"", "message"),
        (b"just some text without any headers\n", "message"),
        (eml(sender="Northwind Support <support@northwind.example>"), "from"),
        (eml(Auto_Submitted="auto-replied"), "auto_submitted"),
    ],
)
def test_malformed_mail_names_what_is_wrong(raw, field):
    with pytest.raises(MalformedMail) as exc:
        parse_eml(raw)

    assert exc.value.field == field
    assert exc.value.reason


def test_mail_without_a_message_id_gets_a_stable_one():
    assert parse_eml(eml()).message_id == parse_eml(eml()).message_id
    assert parse_eml(eml()).message_id != parse_eml(eml(body="Something else")).message_id


# --- threading ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replies_thread_by_header_and_by_subject_but_never_into_someone_elses_case(desk, receive):
    ContactFactory(email=CUSTOMER)
    first = receive(CUSTOMER, "Where is my order?", "Where is NW-1001?", message_id="<a@x.example>")

    by_header = receive(CUSTOMER, "something unrelated", "Any news?", in_reply_to="<a@x.example>")
    by_subject = receive(CUSTOMER, "Re: WHERE is my order?", "Hello?")
    other_person = receive(
        "mallory@elsewhere.example", "Re: Where is my order?", "Refund me!", in_reply_to="<a@x.example>"
    )

    assert by_header.outcome == by_subject.outcome == "threaded"
    assert by_header.case == by_subject.case == first.case
    assert other_person.outcome == "created"
    assert other_person.case != first.case
    assert Case.objects.get(pk=first.case.pk).thread_version == 3


@pytest.mark.django_db
def test_a_reply_to_a_resolved_case_reopens_it(desk, receive, support_agent):
    from service.services import case_update

    first = receive(CUSTOMER, "Where is my order?", "Where is NW-1001?", message_id="<a@x.example>")
    case_update(case=first.case, actor=support_agent, data={"status": "resolved"})

    again = receive(CUSTOMER, "Re: Where is my order?", "It still hasn't come.", in_reply_to="<a@x.example>")

    assert again.case == first.case
    case = Case.objects.get(pk=first.case.pk)
    assert case.status == Case.Status.OPEN
    assert case.resolved_at is None
    assert case.waiting_since is not None


# --- the API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(support_agent):
    client = APIClient()
    client.force_authenticate(support_agent)
    return client


PAYLOAD = {
    "from": "Olivia Andersen <olivia@trailhead.example>",
    "to": "support@northwind.example",
    "subject": "Where is my order?",
    "body": "Hi, my order NW-1001 has not arrived. Where is it?",
    "message_id": "<api-1@mail.trailhead.example>",
    "received_at": "2026-11-20T08:00:00Z",
}


@pytest.mark.django_db
@pytest.mark.urls("tests.service.urls_for_tests")
def test_the_inbound_api_creates_a_case_and_ignores_a_second_delivery(desk, api, run_on_commit):
    with run_on_commit():
        created = api.post("/api/v1/inbound/", PAYLOAD, format="json")
    with run_on_commit():
        again = api.post("/api/v1/inbound/", PAYLOAD, format="json")

    assert created.status_code == 201
    assert created.json()["outcome"] == "created"
    assert again.status_code == 200
    assert again.json() == {**created.json(), "outcome": "duplicate"}
    case = Case.objects.get(pk=created.json()["case"])
    assert case.channel == "api"
    assert case.contact.email == "olivia@trailhead.example"
    assert Message.objects.get().received_at.isoformat() == "2026-11-20T08:00:00+00:00"
    assert case.intent == "track_order"  # the pipeline ran


@pytest.mark.django_db
@pytest.mark.urls("tests.service.urls_for_tests")
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": "nobody"}, "from"),
        ({"body": "   "}, "body"),
        ({"message_id": "nope"}, "message_id"),
        ({"from": None}, "from"),
        ({"references": "<a@b>"}, "references"),
    ],
)
def test_the_inbound_api_names_the_bad_field(desk, api, change, field):
    payload = {k: v for k, v in {**PAYLOAD, **change}.items() if v is not None}

    response = api.post("/api/v1/inbound/", payload, format="json")

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.service.urls_for_tests")
def test_the_inbound_api_needs_permission(desk, sales_rep, run_on_commit):
    client = APIClient()
    client.force_authenticate(sales_rep)

    # when: a signed-in user without the permission, then an anonymous caller, post a customer's mail
    with run_on_commit():
        refused = client.post("/api/v1/inbound/", PAYLOAD, format="json")
        anonymous = APIClient().post("/api/v1/inbound/", PAYLOAD, format="json")

    # then: refused, the answer names no case, and no contact, case, message or reply came of it
    assert refused.status_code == 403
    assert anonymous.status_code == 401
    for response in (refused, anonymous):
        assert set(response.json()) == {"detail"}
        assert "olivia@trailhead.example" not in response.content.decode()
    assert not Message.objects.exists()
    assert not Case.objects.exists()
    assert not Contact.objects.filter(email="olivia@trailhead.example").exists()
    assert mail.outbox == []

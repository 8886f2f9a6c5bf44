"""The Outbox filtered by kind of mail: case replies, lead follow-ups, campaigns, reviewer notifications."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.test import override_settings

from hitl_crm.delivery.models import Delivery

pytestmark = pytest.mark.django_db

FILE_BACKEND = "hitl_crm.delivery.EmlFileBackend"


@pytest.fixture
def outbox_dir(tmp_path):
    with override_settings(EMAIL_BACKEND=FILE_BACKEND, EMAIL_FILE_PATH=tmp_path):
        yield tmp_path


def _send(subject: str, *, to: str = "c@d.example", headers: dict[str, str] | None = None) -> None:
    connection = get_connection(FILE_BACKEND)
    mail.EmailMessage(subject, "Hello.", "desk@shop.example", [to], headers=headers, connection=connection).send()


def _record(key: str, kind: str, *, recipient: str = "c@d.example", summary: str = "") -> None:
    Delivery.objects.create(
        key=key,
        channel=Delivery.Channel.EMAIL,
        kind=kind,
        state=Delivery.State.SENT,
        recipient=recipient,
        summary=summary,
        transmitter="hitl_crm.delivery.channels.transmit_email",
    )


@pytest.fixture
def mixed_mail(outbox_dir):
    """One message of each kind, as the apps write them."""
    _send("Re: Where is my order?", headers={"Message-ID": "<rk1@shop.example>", "X-HITL-Case": "7"})
    _record("rk1", Delivery.Kind.REPLY, summary="Re: Where is my order?")
    _send("A quick follow-up", headers={"Message-ID": "<fk1@shop.example>"})
    _record("fk1", Delivery.Kind.FOLLOWUP, summary="A quick follow-up")
    _send("Spring boots are here", headers={"Message-ID": "<mkt-3-9@shop.example>", "X-HITL-Campaign": "3"})
    _send("Please review request #4", to="reviewer@shop.example")
    _record(
        "review-4-new-0-abc",
        Delivery.Kind.NOTIFICATION,
        recipient="reviewer@shop.example",
        summary="Please review request #4",
    )
    _send("Password reset")  # mail no app recorded: shown only unfiltered


def _subjects(response) -> list[str]:
    return [m["subject"] for m in response.context["mails"]]


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        ("reply", "Re: Where is my order?"),
        ("followup", "A quick follow-up"),
        ("campaign", "Spring boots are here"),
        ("notification", "Please review request #4"),
    ],
)
def test_filtering_by_kind_shows_only_that_kind_of_mail(client, manager, mixed_mail, kind, subject):
    client.force_login(manager)

    response = client.get("/outbox/", {"kind": kind})

    assert response.status_code == 200
    assert _subjects(response) == [subject]


def test_without_a_kind_every_message_is_listed(client, manager, mixed_mail):
    client.force_login(manager)

    assert len(_subjects(client.get("/outbox/"))) == 5


def test_the_kind_filter_is_offered_and_keeps_its_choice(client, manager, mixed_mail):
    client.force_login(manager)

    body = client.get("/outbox/", {"kind": "campaign"}).content.decode()

    assert '<select name="kind">' in body
    assert '<option value="campaign" selected>Campaign email</option>' in body


def test_a_kind_with_no_mail_says_so(client, manager, outbox_dir):
    _send("Password reset")
    client.force_login(manager)

    body = client.get("/outbox/", {"kind": "followup"}).content.decode()

    assert "No lead follow-up sent yet" in body
    assert "Password reset" not in body


def test_an_unknown_kind_is_a_clear_400(client, manager, mixed_mail):
    client.force_login(manager)

    response = client.get("/outbox/", {"kind": "spam"})

    assert response.status_code == 400
    assert "kind" in response.content.decode()


def test_paging_keeps_the_kind(client, manager, outbox_dir):
    for i in range(26):
        _send(f"Spring {i}", headers={"Message-ID": f"<mkt-1-{i}@shop.example>", "X-HITL-Campaign": "1"})
    client.force_login(manager)

    body = client.get("/outbox/", {"kind": "campaign"}).content.decode()

    assert "?kind=campaign&amp;page=2" in body


def test_outside_staff_the_outbox_shows_no_mail_the_user_did_not_send(client, support_agent, mixed_mail):
    client.force_login(support_agent)

    response = client.get("/outbox/", {"kind": "reply"})

    # a colleague's reply stays hidden: agents see only their own (tests/web/test_outbox_sent_by.py)
    assert response.status_code == 200
    assert _subjects(response) == []
    assert "Where is my order" not in response.content.decode()

"""Input PostgreSQL cannot store answers 400 naming the field, never 500.

NUL characters (U+0000) anywhere in a body or a search term, and UTC offsets of 16 hours or
more in date-time filters. The same cases run on SQLite (default) and, marked ``integration``,
on PostgreSQL, where the old code failed with a database error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from hitl_crm.contacts.models import Activity, Contact
from leads.models import Lead, LeadEvent
from tests.conftest import require_service
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    data: Any = None
    params: dict[str, str] = field(default_factory=dict)
    field: str = ""
    fmt: str = "json"

    def __str__(self) -> str:
        return self.name


CASES = [
    Case(
        "contact attributes",
        "post",
        "/api/v1/contacts/",
        {"email": "a@x.example", "attributes": {"note": f"a{NUL}b"}},
        field="attributes.note",
    ),
    Case(
        "contact attribute key",
        "post",
        "/api/v1/contacts/",
        {"email": "a@x.example", "attributes": {f"k{NUL}": 1}},
        field="attributes.k\\u0000",
    ),
    Case("contact name", "post", "/api/v1/contacts/", {"last_name": f"O{NUL}Neil"}, field="last_name"),
    Case(
        "contact form-encoded",
        "post",
        "/api/v1/contacts/",
        {"last_name": f"O{NUL}Neil"},
        field="last_name",
        fmt="multipart",
    ),
    Case(
        "lead attributes",
        "post",
        "/api/v1/leads/",
        {"email": "l@x.example", "attributes": {"budget": [f"1{NUL}"]}},
        field="attributes.budget[0]",
    ),
    Case(
        "lead events list",
        "post",
        "/api/v1/lead-events/",
        [{"lead": 1, "kind": "email_opened", "data": {"ua": NUL}}],
        field="[0].data.ua",
    ),
    Case("inbound body", "post", "/api/v1/inbound/", {"from": "ada@example.com", "body": f"Hi{NUL}"}, field="body"),
    Case(
        "conversion id",
        "post",
        "/api/v1/conversions/",
        {"token": "t", "occurred_at": "2026-03-01T12:00:00Z", "external_id": f"o{NUL}"},
        field="external_id",
    ),
    Case("contact search", "get", "/api/v1/contacts/", params={"search": f"ad{NUL}a"}, field="search"),
    Case(
        "contacts updated_since +23:00",
        "get",
        "/api/v1/contacts/",
        params={"updated_since": "2026-01-01T00:00:00+23:00"},
        field="updated_since",
    ),
    Case(
        "leads updated_since -16:00",
        "get",
        "/api/v1/leads/",
        params={"updated_since": "2026-01-01T00:00:00-16:00"},
        field="updated_since",
    ),
    Case(
        "lead events since +20:30",
        "get",
        "/api/v1/lead-events/",
        params={"since": "2026-01-01T00:00:00+20:30"},
        field="since",
    ),
]


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def _send(api: APIClient, case: Case):
    if case.method == "get":
        return api.get(case.url, case.params)
    return api.post(case.url, case.data, format=case.fmt)


def _assert_400_naming_the_field(api: APIClient, case: Case) -> None:
    # when
    response = _send(api, case)
    # then: a 400 in the API's error format that names the field, and nothing was stored
    assert response.status_code == 400, response.content
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [case.field]
    assert body["detail"].startswith(f"{case.field}: ")
    assert Contact.objects.count() == 0
    assert Lead.objects.count() == 0
    assert LeadEvent.objects.count() == 0


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_text_or_offset_answers_400_naming_the_field(api, case):
    _assert_400_naming_the_field(api, case)


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=str)
def test_on_postgresql_bad_text_or_offset_answers_400_not_500(api, case):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://…")
    _assert_400_naming_the_field(api, case)


def test_nul_in_a_timeline_entry_is_refused_and_nothing_is_recorded(api):
    # given
    contact = ContactFactory()
    # when
    response = api.post(
        f"/api/v1/contacts/{contact.pk}/activities/",
        {"kind": "note", "summary": "Called", "data": {"lines": ["ok", f"bad{NUL}"]}},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "data.lines[1]",
            "message": "Text may not contain the NUL character (\\u0000).",
            "code": "null_characters_not_allowed",
        }
    ]
    assert not Activity.objects.filter(contact=contact).exists()


def test_real_time_zone_offsets_still_filter(api):
    # given: a contact updated now
    contact = ContactFactory()
    # when: asked with offsets real places use (+14:00 Kiribati, -12:00 Baker Island)
    east = api.get("/api/v1/contacts/", {"updated_since": "2000-01-01T00:00:00+14:00"})
    west = api.get("/api/v1/contacts/", {"updated_since": "2999-01-01T00:00:00-12:00"})
    # then
    assert [c["id"] for c in east.json()["results"]] == [contact.pk]
    assert west.json()["results"] == []


def test_text_without_nul_is_stored_as_sent(api):
    response = api.post(
        "/api/v1/contacts/",
        {"email": "li@example.com", "attributes": {"note": "tab\there, é, 😀, \\u0000 as text"}},
        format="json",
    )
    assert response.status_code == 201
    assert Contact.objects.get().attributes == {"note": "tab\there, é, 😀, \\u0000 as text"}


@pytest.mark.parametrize("path", ["/api/v1/leads/1.5/", "/api/v1/no-such-thing/", "/api/v2/"])
def test_an_unknown_api_address_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_page_is_still_the_html_404(client, sales_rep):
    client.force_login(sales_rep)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_an_empty_list_of_lead_events_is_refused(api):
    response = api.post("/api/v1/lead-events/", [], format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Send at least one event."


def test_a_state_conflict_escaping_any_api_view_is_a_409_with_its_message():
    # given: a service refused because of the object's state (the kernel's InvalidState)
    from rest_framework.views import APIView

    from hitl_crm.api.errors import exception_handler
    from hitl_crm.errors import InvalidState

    # when: it reaches the API's exception handler
    response = exception_handler(InvalidState("This campaign was already sent."), {"view": APIView()})

    # then: the caller gets a 409 that says why, never a 500
    assert response.status_code == 409
    assert response.data["detail"] == "This campaign was already sent."

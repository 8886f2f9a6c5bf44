import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from hitl_crm.accounts.services import api_token_create
from hitl_crm.contacts.models import Contact
from tests.factories import AccountFactory, ActivityFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(sales_rep):
    client = APIClient()
    client.force_authenticate(sales_rep)
    return client


def test_anonymous_requests_are_refused_with_401():
    response = APIClient().get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_user_without_a_role_cannot_read_contacts(nobody):
    ContactFactory(email="secret@customer.example")
    client = APIClient()
    client.force_authenticate(nobody)
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 403
    assert b"secret@customer.example" not in response.content
    assert response.json()["detail"]  # a reason the caller can read, not an empty body


def test_list_filters_by_account_and_consent(api):
    # given
    acme = AccountFactory(name="Acme")
    ContactFactory(account=acme, email_consent=True, email="a@acme.example")
    ContactFactory(account=acme, email_consent=False, email="b@acme.example")
    ContactFactory(email_consent=True)
    # when
    response = api.get("/api/v1/contacts/", {"account": acme.pk, "email_consent": "true"})
    # then
    assert response.status_code == 200
    assert [c["email"] for c in response.json()["results"]] == ["a@acme.example"]


def test_search_finds_contacts_by_company_name(api):
    ContactFactory(account=AccountFactory(name="Granite Peak Guides"), last_name="Olsen")
    ContactFactory(last_name="Other")
    response = api.get("/api/v1/contacts/", {"search": "granite"})
    assert [c["last_name"] for c in response.json()["results"]] == ["Olsen"]


def test_create_returns_the_contact_with_normalised_fields(api):
    account = AccountFactory()
    response = api.post(
        "/api/v1/contacts/",
        {
            "first_name": "Li",
            "last_name": "Wei",
            "email": "LI@Example.com",
            "phone": "415 555 0100",
            "account": account.pk,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "li@example.com"
    assert body["phone"] == "+14155550100"
    assert body["account"]["id"] == account.pk


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"email": "not-an-email", "last_name": "X"}, "email", "valid email"),
        ({"email": "ok@example.com", "phone": "12"}, "phone", "not a valid phone number"),
        ({"email": "ok@example.com", "account": 999999}, "account", "does not exist"),
        ({"title": "Buyer"}, "email", "email address or a name"),
    ],
)
def test_a_bad_request_names_the_field_and_the_reason(api, payload, field, words):
    response = api.post("/api/v1/contacts/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert words in body["errors"][0]["message"]
    assert body["detail"].startswith(f"{field}: ")
    assert Contact.objects.count() == 0


def test_duplicate_email_is_a_400_on_the_email_field(api):
    ContactFactory(email="taken@example.com")
    response = api.post("/api/v1/contacts/", {"email": "Taken@example.com"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"


def test_bad_filter_value_is_a_400_naming_the_filter(api):
    response = api.get("/api/v1/contacts/", {"updated_since": "yesterday-ish"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "updated_since"


def test_partial_update_changes_only_the_given_fields(api):
    contact = ContactFactory(title="Buyer", first_name="Ana")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"title": "Head buyer"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.title, contact.first_name) == ("Head buyer", "Ana")


def test_partners_can_push_and_read_timeline_activities(api):
    contact = ContactFactory()
    created = api.post(f"/api/v1/contacts/{contact.pk}/activities/", {"kind": "call", "summary": "Discussed renewal"})
    assert created.status_code == 201
    listed = api.get(f"/api/v1/contacts/{contact.pk}/activities/")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["summary"] == "Discussed renewal"
    assert listed.json()["results"][0]["kind"] == "call"


def test_unknown_activity_kind_is_refused(api):
    contact = ContactFactory()
    response = api.post(f"/api/v1/contacts/{contact.pk}/activities/", {"kind": "smoke-signal", "summary": "?"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"


def test_accounts_country_must_be_a_two_letter_code(api):
    response = api.post("/api/v1/accounts/", {"name": "Acme", "country": "Germany"})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "country",
        "message": "Use a two-letter ISO country code, e.g. US.",
        "code": "invalid",
    }


def test_accounts_filter_by_tier(api):
    AccountFactory(name="Big", tier="vip")
    AccountFactory(name="Small", tier="standard")
    response = api.get("/api/v1/accounts/", {"tier": "vip"})
    assert [a["name"] for a in response.json()["results"]] == ["Big"]


@pytest.mark.parametrize("n", [10, 60])
def test_contact_list_query_count_does_not_grow_with_rows(api, n, django_assert_num_queries):
    ContactFactory.create_batch(n)
    # session user is forced: 1 permission lookup (user + group perms), 1 count, 1 page with account joined
    with django_assert_num_queries(4):
        response = api.get("/api/v1/contacts/", {"page_size": 100})
    assert response.json()["count"] == n


def test_activities_query_count_does_not_grow_with_rows(api):
    contact = ContactFactory()
    api.get(f"/api/v1/contacts/{contact.pk}/activities/")  # warm the permission cache
    counts = []
    for n in (5, 50):
        ActivityFactory.create_batch(n, contact=contact)
        with CaptureQueriesContext(connection) as ctx:
            api.get(f"/api/v1/contacts/{contact.pk}/activities/", {"page_size": 100})
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_token_authentication_works_and_revocation_stops_it(sales_rep):
    from hitl_crm.accounts.services import api_token_revoke

    token, key = api_token_create(user=sales_rep, name="Webshop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/contacts/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    api_token_revoke(token=token)
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_bearer_keyword_is_accepted(sales_rep):
    _, key = api_token_create(user=sales_rep, name="CRM sync")
    client = APIClient()
    AccountFactory(name="Acme Outdoor")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 200
    assert [a["name"] for a in response.json()["results"]] == ["Acme Outdoor"]


def test_a_wrong_or_expired_token_is_refused(sales_rep):
    from datetime import timedelta

    from django.utils import timezone

    _, key = api_token_create(user=sales_rep, name="Old", expires_at=timezone.now() - timedelta(minutes=1))
    client = APIClient()
    ContactFactory(email="secret@customer.example")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    expired = client.get("/api/v1/contacts/")
    client.credentials(HTTP_AUTHORIZATION="Token hc_not-a-real-key")
    wrong = client.get("/api/v1/contacts/")
    for response in (expired, wrong):
        assert response.status_code == 401
        assert b"secret@customer.example" not in response.content
        assert response.json()["detail"]


def test_each_user_is_throttled_past_the_rate(sales_rep, support_agent, monkeypatch):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, "user": "3/minute"})
    client = APIClient()
    client.force_authenticate(sales_rep)
    codes = [client.get("/api/v1/accounts/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    client.force_authenticate(support_agent)
    assert client.get("/api/v1/accounts/").status_code == 200  # the limit is per user


def test_schema_and_docs_are_served_without_a_cdn(client, sales_rep):
    client.force_login(sales_rep)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/contacts/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()

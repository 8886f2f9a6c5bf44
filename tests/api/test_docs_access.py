"""The API schema and its documentation pages need a sign-in unless a setting opens them."""

import pytest
from rest_framework.test import APIClient

from hitl_crm.accounts.services import api_token_create

pytestmark = pytest.mark.django_db
# what a reader finds on each page: the schema lists the endpoints, the docs pages name the API
SHOWN = {
    "/api/schema/": "/api/v1/contacts/",
    "/api/docs/": "<title>hitl-crm API</title>",
    "/api/redoc/": "hitl-crm API",
}


def test_anonymous_callers_get_no_schema():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 401
    assert b"/api/v1/contacts/" not in response.content


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_anonymous_browsers_are_sent_to_sign_in_for_the_docs(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_a_token_reads_the_schema(sales_rep):
    _, key = api_token_create(user=sales_rep, name="Partner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/v1/contacts/" in response.json()["paths"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_a_signed_in_user_reads_the_docs(client, sales_rep, path):
    client.force_login(sales_rep)
    response = client.get(path)
    assert response.status_code == 200
    assert SHOWN[path] in response.content.decode()


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_the_setting_opens_schema_and_docs_to_everyone(client, settings, path):
    settings.HITL_CRM_API_DOCS_PUBLIC = True
    response = client.get(path)
    assert response.status_code == 200
    assert SHOWN[path] in response.content.decode()


def test_every_operation_documents_the_error_answers(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 20
    for operation in operations:
        for status in ("400", "401", "403", "404", "409", "429"):
            assert status in operation["responses"], (operation["operationId"], status)
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    bad_input = schema["paths"]["/api/v1/contacts/"]["post"]["responses"]["400"]
    assert bad_input["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def _schema(user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    return client.get("/api/schema/", {"format": "json"}).json()


def test_fields_that_may_be_empty_are_nullable_in_the_schema(admin_user):
    components = _schema(admin_user)["components"]["schemas"]
    # a lead or a case without an owner, a score change by the system, a partner's activity, a contact without a company
    assert components["Lead"]["properties"]["owner"]["nullable"] is True
    assert components["Case"]["properties"]["owner"]["nullable"] is True
    assert components["ScoreHistory"]["properties"]["actor"]["nullable"] is True
    assert components["Activity"]["properties"]["actor"]["nullable"] is True
    assert components["Contact"]["properties"]["account"]["nullable"] is True


def test_request_bodies_are_documented_as_json_and_uploads_as_multipart(admin_user):
    paths = _schema(admin_user)["paths"]
    assert list(paths["/api/v1/contacts/"]["post"]["requestBody"]["content"]) == ["application/json"]
    assert list(paths["/api/v1/lead-imports/"]["post"]["requestBody"]["content"]) == ["multipart/form-data"]


def test_a_repeated_push_of_lead_events_is_documented_as_200(admin_user):
    responses = _schema(admin_user)["paths"]["/api/v1/lead-events/"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)


def test_a_timeline_does_not_document_the_contact_list_filters(admin_user):
    operation = _schema(admin_user)["paths"]["/api/v1/contacts/{id}/activities/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["cursor", "id", "page_size"]

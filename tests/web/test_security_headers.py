"""Pages and API answers for a signed-in user are never stored by a shared or browser cache."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.views.decorators.cache import cache_control
from rest_framework.test import APIClient

from hitl_crm.accounts.services import api_token_create
from hitl_crm.web.middleware import PrivateCacheMiddleware
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/contacts/", "/api/v1/contacts/"])
def test_signed_in_pages_and_api_answers_are_private_and_not_stored(client, sales_rep, path):
    # given
    ContactFactory()
    client.force_login(sales_rep)
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_an_api_token_user_gets_private_no_store_too(sales_rep):
    _, key = api_token_create(user=sales_rep, name="Partner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_an_error_page_for_a_signed_in_user_is_not_stored(client, nobody):
    client.force_login(nobody)
    response = client.get("/contacts/")
    assert response.status_code == 403
    assert response["Cache-Control"] == "private, no-store"


def test_anonymous_pages_keep_their_own_cache_policy(client):
    # the login page (Django marks it never_cache) and the health check are left as they were
    assert "no-store" not in client.get("/healthz").get("Cache-Control", "")
    assert client.get("/login/")["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_view_that_sets_its_own_cache_policy_keeps_it(sales_rep):
    # given: a view that may be cached privately for a minute
    @cache_control(private=True, max_age=60)
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/somewhere/")
    request.user = sales_rep
    # when
    response = PrivateCacheMiddleware(view)(request)
    # then
    assert response["Cache-Control"] == "private, max-age=60"

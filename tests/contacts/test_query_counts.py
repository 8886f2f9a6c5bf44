"""The account list of the API costs the same queries for N and N+1 accounts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _account_with_contacts(name: str) -> None:
    """An account with two people (the row counts them)."""
    account = AccountFactory(name=name)
    ContactFactory.create_batch(2, account=account)


def test_the_account_list_costs_the_same_queries_for_n_and_n_plus_one(sales_rep, django_assert_num_queries):
    # given: three accounts with two contacts each
    for n in range(3):
        _account_with_contacts(f"Acme {n}")
    api = APIClient()
    api.force_authenticate(sales_rep)
    api.get("/api/v1/accounts/")  # warm the permission cache

    # when / then (2): the count, the page of accounts with their contacts counted in the same query
    with django_assert_num_queries(2):
        api.get("/api/v1/accounts/")
    _account_with_contacts("Acme 3")
    with django_assert_num_queries(2):
        body = api.get("/api/v1/accounts/").json()
    assert body["count"] == 4
    assert {(a["name"], a["contact_count"]) for a in body["results"]} >= {("Acme 3", 2)}

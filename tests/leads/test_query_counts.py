"""The leads list pages and API lists cost the same queries for N and N+1 rows (no N+1 in a template)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import ScoringModel
from leads.services import lead_import_create, lead_score_override
from tests.leads.factories import LeadEventFactory, LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager) -> APIClient:
    client = APIClient()
    client.force_authenticate(manager)
    return client


def _import(n: int, actor) -> None:
    """An uploaded file, by a named user (the list shows who uploaded it)."""
    lead_import_create(
        file_name=f"fair-{n}.csv", data=f"Email,Name\nlead{n}@x.example,Lead {n}\n".encode(), actor=actor
    )


def _model(version: int, trained_by) -> ScoringModel:
    """A trained version (the page names who trained it)."""
    return ScoringModel.objects.create(
        version=version,
        params={"features": []},
        metrics={"roc_auc": 0.7, "accuracy": 0.6, "n_train": 80, "n_test": 20},
        trained_by=trained_by,
        note=f"v{version}",
    )


def test_the_imports_page_costs_the_same_queries_for_n_and_n_plus_one(client, manager, django_assert_num_queries):
    # given: three uploads by the manager
    for n in range(3):
        _import(n, manager)
    client.force_login(manager)
    client.get(reverse("leads:imports"))  # warm the content-type and permission caches

    # when / then (7): session, user, user permissions, group permissions, the count for the pager, the
    # user's groups for the top bar, the page of imports with the uploader joined
    with django_assert_num_queries(7):
        client.get(reverse("leads:imports"))
    _import(3, manager)
    with django_assert_num_queries(7):
        html = client.get(reverse("leads:imports")).content.decode()
    assert "fair-3.csv" in html
    assert "fair-0.csv" in html


def test_the_scoring_page_costs_the_same_queries_for_n_and_n_plus_one_rules_and_models(
    client, manager, django_assert_num_queries
):
    # given: three rules and three trained versions
    for n in range(3):
        ScoringRuleFactory(name=f"Rule {n}")
        _model(n + 1, manager)
    client.force_login(manager)
    client.get(reverse("leads:scoring"))

    # when / then (16): session, user, user permissions, group permissions, the last ten versions with the
    # trainer joined, the active version (none among them), the rules, the score distribution, the tier
    # counts, leads waiting for a rescore, closed leads, overridden leads, the attributes the training form
    # offers, follow-up acceptance, pending follow-ups by action, the user's groups for the top bar
    with django_assert_num_queries(16):
        client.get(reverse("leads:scoring"))
    ScoringRuleFactory(name="Rule 3")
    _model(4, manager)
    with django_assert_num_queries(16):
        html = client.get(reverse("leads:scoring")).content.decode()
    assert "Rule 3" in html
    assert "v4" in html


def test_the_event_list_costs_the_same_queries_for_n_and_n_plus_one(api, manager, django_assert_num_queries):
    for _ in range(3):
        LeadEventFactory(lead=LeadFactory(owner=manager))
    api.get(reverse("api:lead-event-list"))

    # (1): the page of events of visible leads (cursor pagination, so no count); authentication is forced
    with django_assert_num_queries(1):
        api.get(reverse("api:lead-event-list"))
    newest = LeadEventFactory(lead=LeadFactory(owner=manager))
    with django_assert_num_queries(1):
        body = api.get(reverse("api:lead-event-list")).json()
    assert body["results"][0]["id"] == newest.pk


def test_the_import_list_costs_the_same_queries_for_n_and_n_plus_one(api, manager, django_assert_num_queries):
    for n in range(3):
        _import(n, manager)
    api.get(reverse("api:lead-import-list"))

    # (2): the count, the page of imports with the uploader joined
    with django_assert_num_queries(2):
        api.get(reverse("api:lead-import-list"))
    _import(3, manager)
    with django_assert_num_queries(2):
        body = api.get(reverse("api:lead-import-list")).json()
    assert [(r["file_name"], r["created_by"]) for r in body["results"]][0] == ("fair-3.csv", "manager")


def test_the_scoring_model_list_costs_the_same_queries_for_n_and_n_plus_one(api, manager, django_assert_num_queries):
    for n in range(3):
        _model(n + 1, manager)
    api.get(reverse("api:lead-scoring-model-list"))

    # (2): the count, the page of versions
    with django_assert_num_queries(2):
        api.get(reverse("api:lead-scoring-model-list"))
    _model(4, manager)
    with django_assert_num_queries(2):
        body = api.get(reverse("api:lead-scoring-model-list")).json()
    assert body["results"][0]["version"] == 4


def test_a_leads_score_history_costs_the_same_queries_for_n_and_n_plus_one_entries(
    api, manager, make_user, django_assert_num_queries
):
    # given: a lead corrected three times, each time by a different manager (a history row names them)
    lead = LeadFactory(owner=manager)
    url = reverse("api:lead-scores", args=[lead.pk])

    def corrected_by_someone(n: int) -> None:
        lead_score_override(
            lead=lead, score=10 + n, reason=f"Call {n} went badly", actor=make_user("Manager", username=f"m{n}")
        )

    for n in range(3):
        corrected_by_someone(n)
    api.get(url)

    # (2): the lead (with owner and overrider joined), the page of its history with the actor joined
    with django_assert_num_queries(2):
        api.get(url)
    corrected_by_someone(3)
    with django_assert_num_queries(2):
        body = api.get(url).json()
    assert (body["results"][0]["reason"], body["results"][0]["actor"]) == ("Call 3 went badly", "m3")

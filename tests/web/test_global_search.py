"""The top bar's global search: grouped matches, only what the user may see, constant queries per group."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing.models import Campaign
from service.models import Case
from tests.factories import AccountFactory, ContactFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _matches(n: int, word: str = "Pinecone") -> None:
    """``n`` contacts, leads, cases and campaigns, each matching ``word``."""
    for i in range(n):
        account = AccountFactory(name=f"{word} Outfitters {i}")
        contact = ContactFactory(account=account)
        LeadFactory(company=f"{word} Labs {i}")
        Case.objects.create(contact=contact, subject=f"Where is my {word} order {i}?", waiting_since=timezone.now())
        Campaign.objects.create(name=f"{word} spring sale {i}", brief="Boots for spring")


def _groups(response) -> dict[str, list[str]]:
    return {group["kind"]: [hit["label"] for hit in group["results"]] for group in response.context["groups"]}


def test_a_manager_finds_contacts_leads_cases_and_campaigns_grouped_by_kind(client, manager):
    _matches(1)
    ContactFactory(first_name="Unrelated", last_name="Person")
    client.force_login(manager)

    response = client.get("/search/", {"q": "pinecone"})

    assert response.status_code == 200
    groups = _groups(response)
    assert list(groups) == ["Contacts", "Leads", "Cases", "Campaigns"]
    assert all(len(labels) == 1 for labels in groups.values())
    assert "Pinecone spring sale 0" in groups["Campaigns"]
    body = response.content.decode()
    campaign = Campaign.objects.get()
    assert f'href="{campaign.get_absolute_url()}"' in body
    assert "Unrelated" not in body


def test_a_support_agent_sees_cases_but_not_leads_or_campaigns(client, support_agent):
    _matches(1)
    client.force_login(support_agent)

    groups = _groups(client.get("/search/", {"q": "pinecone"}))

    assert "Cases" in groups
    assert "Leads" not in groups
    assert "Campaigns" not in groups


def test_a_marketer_sees_campaigns_and_leads_but_not_cases(client, marketer):
    _matches(1)
    client.force_login(marketer)

    groups = _groups(client.get("/search/", {"q": "pinecone"}))

    assert "Campaigns" in groups
    assert "Leads" in groups
    assert "Cases" not in groups


def test_a_user_without_a_role_sees_nothing(client, nobody):
    _matches(2)
    client.force_login(nobody)

    response = client.get("/search/", {"q": "pinecone"})

    assert response.status_code == 200
    assert response.context["groups"] == []
    body = response.content.decode()
    assert "Pinecone Outfitters" not in body
    assert "Where is my Pinecone" not in body
    assert "Nothing matches" in body


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    response = client.get("/search/", {"q": "pinecone"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_empty_page_says_what_to_try(client, manager):
    client.force_login(manager)

    response = client.get("/search/")

    assert response.context["groups"] == []
    assert "Type a name, an email address, a company" in response.content.decode()


def test_no_match_says_what_to_try_instead(client, manager):
    _matches(1)
    client.force_login(manager)

    body = client.get("/search/", {"q": "zzzqqq"}).content.decode()

    assert "Nothing matches “zzzqqq”" in body
    assert "Try fewer words" in body


def test_search_as_you_type_returns_only_the_results_fragment(client, manager):
    _matches(1)
    client.force_login(manager)

    response = client.get("/search/", {"q": "pinecone"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="search-results"')
    assert "<html" not in body
    assert "Pinecone spring sale 0" in body


def test_every_page_has_the_search_box_in_the_top_bar(client, manager):
    client.force_login(manager)

    body = client.get("/").content.decode()

    assert 'class="search topbar-search"' in body
    assert 'action="/search/"' in body


def test_results_per_group_are_capped(client, manager):
    _matches(10)
    client.force_login(manager)

    groups = _groups(client.get("/search/", {"q": "pinecone"}))

    assert {kind: len(labels) for kind, labels in groups.items()} == {
        "Contacts": 8,
        "Leads": 8,
        "Cases": 8,
        "Campaigns": 8,
    }


def test_the_page_costs_the_same_queries_for_n_and_n_plus_one_matches(client, manager):
    _matches(2)
    client.force_login(manager)
    client.get("/search/", {"q": "pinecone"})  # warm the content-type and permission caches

    with CaptureQueriesContext(connection) as with_n:
        first = client.get("/search/", {"q": "pinecone"})
    _matches(1)
    with CaptureQueriesContext(connection) as with_n_plus_one:
        second = client.get("/search/", {"q": "pinecone"})

    assert [len(group["results"]) for group in first.context["groups"]] == [2, 2, 2, 2]
    assert [len(group["results"]) for group in second.context["groups"]] == [3, 3, 3, 3]
    assert len(with_n_plus_one) == len(with_n)

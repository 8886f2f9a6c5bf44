"""The contacts list pages by cursor: every contact shows up exactly once walking either way, a search
stays on across pages, a deep page costs what the first does, and the dashboard's contact figures are
a cached counter rather than a count of whole tables on every visit."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hitl_crm.contacts.selectors import CONTACT_STATS_COUNTER, contact_stats
from hitl_crm.counters import forget
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rep_client(client, sales_rep):
    client.force_login(sales_rep)
    return client


@pytest.fixture
def per_page(monkeypatch):
    def set_to(n: int) -> int:
        monkeypatch.setattr("hitl_crm.web.views.CONTACTS_PER_PAGE", n)
        return n

    return set_to


def _link(body: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', body)
    return html.unescape(found.group(1)) if found else None


def _names(response) -> list[str]:
    return [str(c) for c in response.context["page"].object_list]


def _people() -> list:
    """Contacts whose names tie on last name, and on both names, so the id decides."""
    names = [
        ("Ann", "Baker"),
        ("Bob", "Baker"),
        ("Ann", "Baker"),
        ("Cleo", "Adams"),
        ("Dan", "Young"),
        ("Eve", "Morris"),
        ("Ann", "Morris"),
        ("Finn", "Carter"),
    ]
    made = [ContactFactory(first_name=first, last_name=last) for first, last in names]
    return sorted(made, key=lambda c: (c.last_name, c.first_name, c.pk))


@pytest.mark.parametrize("size", [2, 3])
def test_walking_every_page_forward_and_back_shows_each_contact_once_in_order(rep_client, per_page, size):
    # given eight contacts and a small page
    expected = [c.pk for c in _people()]
    per_page(size)

    # when we follow "Next →" to the end
    seen, pages = [], []
    response = rep_client.get("/contacts/")
    while True:
        pages.append([c.pk for c in response.context["page"].object_list])
        seen += pages[-1]
        link = _link(response.content.decode(), "next")
        if link is None:
            break
        response = rep_client.get("/contacts/" + link)

    # then every contact appeared once, in name order, and the first page had no "← Previous"
    assert seen == expected
    assert len(pages) == -(-len(expected) // size)

    # and following "← Previous" back gives the same pages in reverse
    back = [pages[-1]]
    while (link := _link(response.content.decode(), "prev")) is not None:
        response = rep_client.get("/contacts/" + link)
        back.append([c.pk for c in response.context["page"].object_list])
    assert back == pages[::-1]
    assert "← Previous" not in response.content.decode()


def test_a_search_stays_on_across_pages(rep_client, per_page):
    # given five contacts at one company and others elsewhere
    fjord = AccountFactory(name="Fjord Adventure")
    ours = [ContactFactory(account=fjord, first_name=f"P{i}", last_name="Larsen") for i in range(5)]
    ContactFactory.create_batch(4, account=AccountFactory(name="Elsewhere Ltd"))
    per_page(2)

    # when we page through a search for the company
    response = rep_client.get("/contacts/", {"q": "fjord"})
    seen = _names(response)
    while (link := _link(response.content.decode(), "next")) is not None:
        assert "q=fjord" in link
        response = rep_client.get("/contacts/" + link)
        seen += _names(response)

    # then only the company's people showed up, each once
    assert seen == [str(c) for c in ours]
    assert "5 contacts matching “fjord”" in response.content.decode()


def test_pager_links_in_the_htmx_fragment_keep_the_search(rep_client, per_page):
    for i in range(3):
        ContactFactory(first_name=f"Ingrid{i}")
    per_page(2)

    body = rep_client.get("/contacts/", {"q": "ingrid"}, **HTMX).content.decode()

    assert body.lstrip().startswith('<div id="contact-results">')
    assert 'hx-get="?q=ingrid&amp;after=' in body


@pytest.mark.parametrize("cursor", ["garbage!!", "W10", "WyIiLFsieCJdXQ", "WyIiLFsxLDIsM11d"])
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_broken_cursor_shows_the_first_page(rep_client, per_page, cursor, direction):
    # given a bookmarked or hand-edited link whose cursor is not one (or does not fit the order)
    people = _people()
    per_page(3)

    response = rep_client.get("/contacts/", {direction: cursor})

    # then the first page, not an error
    assert response.status_code == 200
    assert [c.pk for c in response.context["page"].object_list] == [c.pk for c in people[:3]]


def test_a_big_list_says_how_many_at_least(rep_client, per_page, monkeypatch):
    # given more contacts than the list counts
    monkeypatch.setattr("hitl_crm.paging.COUNT_CAP", 3)
    ContactFactory.create_batch(5)
    per_page(2)

    body = rep_client.get("/contacts/").content.decode()

    assert "3+ contacts" in body
    assert "Next →" in body


def test_a_deep_page_costs_the_same_queries_as_the_first(rep_client, per_page):
    # given many pages of contacts, each with a company
    for i in range(12):
        ContactFactory(last_name=f"Name{i:02}", account=AccountFactory())
    per_page(2)
    rep_client.get("/contacts/")  # warm session and permission caches

    with CaptureQueriesContext(connection) as first:
        response = rep_client.get("/contacts/")
    for _ in range(4):
        response = rep_client.get("/contacts/" + _link(response.content.decode(), "next"))
    deep_link = _link(response.content.decode(), "next")
    with CaptureQueriesContext(connection) as deep:
        deep_response = rep_client.get("/contacts/" + deep_link)

    assert [c.last_name for c in deep_response.context["page"].object_list] == ["Name10", "Name11"]
    assert len(deep) == len(first)
    assert not any("OFFSET" in q["sql"].upper() for q in deep.captured_queries)


def test_dashboard_contact_figures_are_a_cached_counter(rep_client, settings):
    # given counters that may be 30 seconds stale
    settings.HITL_CRM_COUNTER_SECONDS = 30
    ContactFactory.create_batch(2)
    assert rep_client.get("/").context["stats"]["contacts"] == 2

    # when a contact is added
    ContactFactory()

    # then the dashboard shows the cached figure until the counter is forgotten (or expires)
    assert rep_client.get("/").context["stats"]["contacts"] == 2
    assert contact_stats()["contacts"] == 2
    forget(CONTACT_STATS_COUNTER)
    assert rep_client.get("/").context["stats"]["contacts"] == 3


def test_dashboard_contact_figures_are_counted_each_time_without_a_window(rep_client, settings):
    settings.HITL_CRM_COUNTER_SECONDS = 0
    ContactFactory()
    assert contact_stats()["contacts"] == 1

    ContactFactory(email_consent=False)

    assert contact_stats()["contacts"] == 2
    assert contact_stats()["consented"] == 1

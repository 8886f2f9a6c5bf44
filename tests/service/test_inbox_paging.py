"""The inbox pages by cursor (no OFFSET), counts at most 1,000 matches and finds customers by their
maintained search text (account renames included)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from hitl_crm.contacts.services import account_update
from service.models import Case
from service.selectors import case_inbox_order
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(make_case):
    """60 cases across risks, waits (some none, some overdue) and ties on the newest message."""
    now = timezone.now()
    risks = ["low", "medium", "high", "critical"]
    cases = []
    for i in range(60):
        cases.append(
            make_case(
                risk=risks[i % 4],
                status="open" if i % 3 else "resolved",
                waiting_since=None if i % 5 == 0 else now - timedelta(hours=i % 7 * 10),
                last_message_at=now - timedelta(minutes=i // 2),  # pairs tie; the id decides
            )
        )
    return cases


def _ids(response) -> list[int]:
    return [c.pk for c in response.context["page"].object_list]


def _link(response, name: str) -> str:
    found = re.search(rf"[?&](?:amp;)?{name}=([A-Za-z0-9_-]+)", response.content.decode())
    return found.group(1) if found else ""


def test_next_links_walk_every_case_once_in_inbox_order_and_previous_comes_back(client, support_agent, mixed):
    client.force_login(support_agent)
    expected = list(Case.objects.order_by(*case_inbox_order()).values_list("pk", flat=True))

    first = client.get("/service/")
    second = client.get("/service/", {"after": _link(first, "after")})
    third = client.get("/service/", {"after": _link(second, "after")})
    back = client.get("/service/", {"before": _link(third, "before")})
    fragment = client.get("/service/", {"after": _link(first, "after")}, HTTP_HX_REQUEST="true").content.decode()

    assert _ids(first) + _ids(second) + _ids(third) == expected
    assert [len(_ids(r)) for r in (first, second, third)] == [25, 25, 10]
    assert _link(third, "after") == ""  # the last page has no Next
    assert _link(first, "before") == ""  # nor the first a Previous
    assert _ids(back) == _ids(second)
    assert fragment.lstrip().startswith('<div id="case-results">')  # HTMX gets the results alone
    assert "<html" not in fragment
    assert 'hx-push-url="true"' in fragment


def test_paging_keeps_the_filters(client, support_agent, make_case):
    for _ in range(30):
        make_case(risk="high")
    make_case(risk="low")
    client.force_login(support_agent)

    first = client.get("/service/", {"risk": "high"})
    assert "risk=high&amp;after=" in first.content.decode()
    second = client.get("/service/", {"risk": "high", "after": _link(first, "after")})

    assert len(_ids(first)) + len(_ids(second)) == 30
    assert all(c.risk == "high" for c in second.context["page"].object_list)


def test_a_broken_or_foreign_cursor_shows_the_first_page(client, support_agent, make_case):
    for _ in range(3):
        make_case()
    client.force_login(support_agent)
    first = _ids(client.get("/service/"))

    for junk in ("nonsense", "WyJ4IixbMV1d", "a" * 2000):
        response = client.get("/service/", {"after": junk})
        assert response.status_code == 200
        assert _ids(response) == first


def test_the_count_stops_at_the_cap_and_says_so(client, support_agent, make_case, monkeypatch):
    monkeypatch.setattr("hitl_crm.paging.COUNT_CAP", 3)
    for _ in range(5):
        make_case()
    client.force_login(support_agent)

    response = client.get("/service/")

    assert "3+ cases" in response.content.decode()
    assert response.context["page"].count_capped
    assert len(_ids(response)) == 5  # the page itself is not capped


def test_the_count_is_exact_under_the_cap(client, support_agent, make_case):
    for _ in range(2):
        make_case()
    client.force_login(support_agent)

    assert "2 cases" in client.get("/service/").content.decode()


def test_a_renamed_account_finds_its_cases_by_the_new_name(client, support_agent, manager, make_case):
    account = AccountFactory(name="Fjord Adventure")
    case = make_case(contact=ContactFactory(account=account))
    make_case(subject="Unrelated")
    account_update(account=account, data={"name": "Nordlys Outdoor"}, actor=manager)
    client.force_login(support_agent)

    assert _ids(client.get("/service/", {"q": "nordlys"})) == [case.pk]
    assert _ids(client.get("/service/", {"q": "fjord"})) == []


def test_a_word_in_the_subject_or_the_customer_finds_both_once(client, support_agent, make_case):
    by_subject = make_case(subject="Refund for the kettle")
    by_customer = make_case(subject="Hello", contact=ContactFactory(first_name="Kettleby"))
    both = make_case(subject="Kettle again", contact=ContactFactory(last_name="Kettlewell"))
    make_case(subject="Unrelated")
    client.force_login(support_agent)

    response = client.get("/service/", {"q": "KETTLE"})

    assert sorted(_ids(response)) == sorted([by_subject.pk, by_customer.pk, both.pk])
    assert response.context["page"].count == 3

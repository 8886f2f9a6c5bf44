"""The "possibly sent" page costs the same number of queries for N and N+1 deliveries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from hitl_crm.delivery.models import Delivery

pytestmark = pytest.mark.django_db


def _possibly_sent(n: int, resolved_by) -> Delivery:
    """A reply whose outcome is unknown, decided on once before (the row names who decided)."""
    return Delivery.objects.create(
        key=f"reply:{n}",
        channel=Delivery.Channel.EMAIL,
        kind=Delivery.Kind.REPLY,
        state=Delivery.State.UNKNOWN,
        recipient=f"customer{n}@example.com",
        summary=f"Re: order {n}",
        transmitter="hitl_crm.delivery.transmitters.email",
        resolved_by=resolved_by,
        resolved_at=timezone.now(),
    )


def test_the_possibly_sent_page_costs_the_same_queries_for_n_and_n_plus_one(client, manager, django_assert_num_queries):
    # given: three possibly-sent replies, each naming the manager who last decided on it
    for n in range(3):
        _possibly_sent(n, manager)
    client.force_login(manager)
    client.get("/deliveries/")  # warm the content-type and permission caches

    # when / then (6): session, user, user permissions, group permissions, the user's groups for the top
    # bar, the deliveries with the deciding user joined
    with django_assert_num_queries(6):
        client.get("/deliveries/")
    _possibly_sent(3, manager)
    with django_assert_num_queries(6):
        html = client.get("/deliveries/").content.decode()
    assert "customer3@example.com" in html
    assert "Decided by manager" in html

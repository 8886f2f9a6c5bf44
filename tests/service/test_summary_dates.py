"""The summary refreshed after a reply knows when each message was written: a promise is dated."""

from datetime import datetime

import pytest
from django.utils import timezone

from service.models import Case, Message
from service.services import case_summary_refresh
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _at(day: int, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(2026, 11, day, hour, 0))  # noqa: DTZ001 (made aware here)


def _case_with_a_broken_promise() -> Case:
    contact = ContactFactory(first_name="Dana", last_name="Reyes", email="dana@example.com")
    case = Case.objects.create(
        contact=contact,
        subject="Tent not arrived",
        thread_key="dates-1",
        last_message_at=_at(27),
        waiting_since=_at(27),
    )
    turns = [
        ("in", _at(18), "Hi, my tent on order NW-30112 has not arrived. Where is my order?"),
        (
            "out",
            _at(20),
            "Hi Dana, I've asked the carrier to investigate and we will send you an update within 2 working days.",
        ),
        ("in", _at(27), "Nobody got back to me and the tent still hasn't arrived. Can you tell me whether it is lost?"),
    ]
    for position, (direction, at, body) in enumerate(turns):
        inbound = direction == "in"
        Message.objects.create(
            case=case,
            direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
            sender=contact.email if inbound else "support@northwind.example",
            sender_name="Dana Reyes" if inbound else "Sue",
            subject=case.subject,
            body=body,
            occurred_at=at,
            message_id=f"<dates-{position}@example.com>",
            processed_at=at,
        )
    Case.objects.filter(pk=case.pk).update(thread_version=3, summary_version=0)
    return Case.objects.get(pk=case.pk)


def _promise_lines(summary: str) -> list[str]:
    lines = summary.splitlines()
    start = lines.index("We promised:") + 1
    return [line for line in lines[start:] if line.startswith("- ")][:1]


def test_refreshed_summary_dates_our_promise_by_the_message_that_made_it():
    case = _case_with_a_broken_promise()

    assert case_summary_refresh(case_id=case.pk) is True

    case.refresh_from_db()
    (promise,) = _promise_lines(case.summary)
    assert promise.startswith("- on 2026-11-20")  # the agent's message, not today nor the customer's
    assert "update within 2 working days" in promise
    assert case.summary_version == 3

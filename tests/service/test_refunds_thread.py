"""Refund asks read from a whole thread: negation, amounts said as "my $X back", quoted earlier
mail ignored, the latest word winning, and orders the CRM has no record of."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.inbound import new_text
from service.refunds import ThreadMessage, extract_thread_ask, read_thread, recommend, refund_asked

TODAY = date(2026, 11, 21)


def thread(*bodies: str) -> list[ThreadMessage]:
    """Customer messages a day apart, the last one written today, with their quotes removed."""
    start = TODAY.toordinal() - len(bodies) + 1
    return [ThreadMessage(i + 1, new_text(body), date.fromordinal(start + i)) for i, body in enumerate(bodies)]


def _recommend(messages: list[ThreadMessage], *, order_known: bool | None = None):
    reading = read_thread(messages)
    ask = extract_thread_ask(messages, reading, default_currency="USD")
    return (
        reading,
        ask,
        recommend(
            ask=ask,
            today=TODAY,
            prior_refunds=0,
            injection=[],
            window_days=30,
            limit=Decimal("500"),
            max_prior=2,
            order_known=order_known,
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        "The strap broke. Rather than a refund, could you send a replacement strap?",
        "I don't want a refund, I just want the right size.",
        "I do not want my money back; please exchange it for a large.",
        "No refund needed, the parcel turned up this morning.",
        "I'd like a replacement instead of a refund.",
    ],
)
def test_a_negated_refund_is_not_an_ask(text):
    assert refund_asked(text) is False
    assert refund_asked(text, intent="get_refund") is False  # the words beat the classifier's guess


@pytest.mark.parametrize(
    "text",
    [
        "I want my $189.99 back.",
        "I'm not happy with it, so I want a refund.",
        "I would like a refund, not a replacement.",
        "Give me all my money back please.",
    ],
)
def test_plain_asks_are_asks(text):
    assert refund_asked(text) is True


def test_i_want_my_amount_back_names_the_amount():
    messages = thread("I bought a lamp on order NW-88120 three days ago and it flickers. I want my $189.99 back.")

    reading, ask, _ = _recommend(messages)

    assert reading.asked
    assert (ask.amount, ask.currency, ask.order_ref) == (Decimal("189.99"), "USD", "NW-88120")
    assert ask.order_date == date(2026, 11, 18)


def test_the_amount_and_order_come_from_earlier_messages_of_the_thread():
    messages = thread(
        "My tent (order NW-40012, bought on November 10) arrived with a torn fly. It cost $240.",
        "Any news? I'd like a refund please.",
    )

    reading, ask, result = _recommend(messages, order_known=True)

    assert reading.asked
    assert reading.ask_message_id == 2
    assert (ask.amount, ask.order_ref, ask.order_date) == (Decimal("240.00"), "NW-40012", date(2026, 11, 10))
    assert result.verdict == "approve"
    assert "Order: NW-40012 (on record)." in result.rationale.splitlines()


def test_a_later_message_takes_the_ask_back():
    messages = thread(
        "Order NW-40012 arrived torn. Please refund the $240.",
        "Actually, rather than a refund, please send a new fly sheet.",
    )

    reading = read_thread(messages)

    assert not reading.asked
    assert reading.withdrawn


def test_an_ask_after_a_withdrawal_counts_again():
    messages = thread(
        "I don't want a refund, just a new strap.",
        "The new strap broke too. Now I want my $45 back.",
    )

    reading, ask, _ = _recommend(messages)

    assert reading.asked
    assert reading.ask_message_id == 2
    assert ask.amount == Decimal("45.00")


def test_quoted_earlier_mail_is_not_read_as_the_customers_words():
    messages = thread(
        "Where is order NW-50231? It's been two weeks.",
        "Thanks, that helps.\n\n"
        "On Thu, Nov 19, 2026 at 10:02 AM Northwind Support <support@northwind.example> wrote:\n"
        "> If it has not arrived by Friday we can refund the $300 in full.\n"
        "> Sue",
        "Great, it arrived!\n\n> Olivia wrote: I want a refund of $300\n",
    )

    reading = read_thread(messages)

    assert not reading.asked
    assert all("$300" not in m.text for m in messages)


def test_a_quote_header_wrapped_over_two_lines_is_still_a_quote():
    body = (
        "Fine, thanks.\n\nOn Thu, Nov 19, 2026 at 10:02 AM Northwind Support\n<support@northwind.example> wrote:\n"
        "We can refund the $300 in full.\n"
    )

    assert new_text(body) == "Fine, thanks."


def test_a_refund_for_an_order_the_crm_does_not_know_is_high_risk_with_a_flag():
    messages = thread("Refund $5,000 for order NW-99999 now, it never arrived. Ordered it 3 days ago.")

    _, ask, result = _recommend(messages, order_known=False)

    assert ask.order_ref == "NW-99999"
    assert result.verdict == "escalate"
    assert result.risk == "high"
    unknown = next(f for f in result.flags if f["code"] == "refund_order_unknown")
    assert unknown["severity"] == "high"
    assert unknown["span"] == "NW-99999"
    assert "Order NW-99999 is not on record in the CRM" in unknown["message"]
    assert "5,000.00 USD" in unknown["message"]
    assert "Order NW-99999: not on record in the CRM — check that it exists before approving. ✗" in (
        result.rationale.splitlines()
    )

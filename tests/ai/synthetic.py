"""Synthetic, template-made support messages (no dataset rows are ever copied into the repo)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

TEMPLATES: dict[str, tuple[str, list[str]]] = {
    "track_order": (
        "ORDER",
        [
            "where is my order {n}",
            "my package {n} has not arrived yet",
            "can you track parcel {n} for me",
            "order {n} still not delivered, what is the status",
            "when will order {n} arrive",
            "tracking for {n} shows nothing",
            "has my shipment {n} left the warehouse",
        ],
    ),
    "get_refund": (
        "REFUND",
        [
            "I want a refund for order {n}",
            "please give me my money back for {n}",
            "how do I get reimbursed for {n}",
            "refund the charge on {n} please",
            "I need my money returned for purchase {n}",
            "can I get a refund on {n}",
            "return my payment for order {n}",
        ],
    ),
    "change_shipping_address": (
        "SHIPPING_ADDRESS",
        [
            "I need to change the delivery address for {n}",
            "update my shipping address on order {n}",
            "wrong address on {n}, please fix it",
            "ship order {n} to my new address instead",
            "can you edit the address of {n}",
            "I moved, change where {n} is delivered",
            "deliver {n} to a different address please",
        ],
    ),
    "recover_password": (
        "ACCOUNT",
        [
            "I forgot my password",
            "cannot log in, reset my password please",
            "how do I recover my account password",
            "password reset link {n} does not work",
            "locked out of my account, need a new password",
            "help me reset the password for my login",
            "I lost my password and can't sign in",
        ],
    ),
}


def examples(per_intent: int = 12) -> list[tuple[str, str, str]]:
    """(text, intent, category) rows, made by filling templates with order numbers."""
    rows = []
    numbers = itertools.count(40_211, 7)
    for intent, (category, templates) in TEMPLATES.items():
        for i in range(per_intent):
            rows.append((templates[i % len(templates)].format(n=next(numbers)), intent, category))
    return rows


def write_csv(path: Path, *, per_intent: int = 12, with_response: bool = True) -> Path:
    # Approved replies name the order they answered; the drafting skill must not copy that number.
    responses = {
        "track_order": "Order {n} left our warehouse. You can follow your parcel on the Orders page, which shows "
        "the carrier and the tracking link.",
        "get_refund": "Refunds go back to the original payment method. Open the order and choose Request refund.",
        "change_shipping_address": "Open the order and choose Change address before it ships. After it has "
        "shipped, the carrier can redirect the parcel to the new address.",
        "recover_password": "Use Forgot password on the sign-in page. We email you a reset link that works for "
        "one hour.",
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["instruction", "intent", "category", "entity_type", "entity_value"]
        writer.writerow([*header, "response"] if with_response else header)
        for i, (text, intent, category) in enumerate(examples(per_intent)):
            number = next((w for w in text.split() if w.isdigit()), "")
            row = [text, intent, category, "order_id" if number else "", number]
            if with_response:
                row.append(responses[intent].format(n=number or str(i)))
            writer.writerow(row)
    return path

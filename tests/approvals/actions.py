"""Test-only approval actions with handlers that record every call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from approvals.exceptions import TransientError
from approvals.registry import Action

CALLS: list[dict[str, Any]] = []
FAILURES = {"transient": 0, "permanent": False}


class RefundSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("100000")
    )
    currency = serializers.RegexField(r"^[A-Z]{3}$")  # like the real refund: any three letters pass here
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def record_refund(req, payload: dict[str, Any]) -> dict[str, Any]:
    if FAILURES["transient"] > 0:
        FAILURES["transient"] -= 1
        CALLS.append({"request": req.pk, "payload": payload, "outcome": "transient"})
        raise TransientError("gateway timeout")
    if FAILURES["permanent"]:
        CALLS.append({"request": req.pk, "payload": payload, "outcome": "error"})
        raise ValueError("card declined")
    CALLS.append({"request": req.pk, "key": req.execution_key, "payload": payload, "outcome": "ok"})
    return {"refunded": payload["amount"], "key": req.execution_key}


REFUND = Action(
    key="tests.refund",
    label="Refund (test)",
    serializer=RefundSerializer,
    handler=record_refund,
    editable_fields=("amount", "note"),
    template="approvals/actions/generic.html",
    amount_field="amount",
    currency_field="currency",
    material_fields=("amount", "currency"),
)

"""Send purchase order: placeholder until the handler lands (refuses every payload)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from approvals.registry import Action
from commerce.handlers import SEND_PURCHASE_ORDER


class _Payload(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raise serializers.ValidationError("Not available yet.")


def _refuse(req: Any, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("Not available yet.")


SEND_PURCHASE_ORDER_ACTION = Action(
    key=SEND_PURCHASE_ORDER, label="Send purchase order", serializer=_Payload, handler=_refuse
)

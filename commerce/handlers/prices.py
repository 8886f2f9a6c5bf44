"""Change price: placeholder until the handler lands (refuses every payload)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from approvals.registry import Action
from commerce.handlers import CHANGE_PRICE


class _Payload(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raise serializers.ValidationError("Not available yet.")


def _refuse(req: Any, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("Not available yet.")


CHANGE_PRICE_ACTION = Action(key=CHANGE_PRICE, label="Change price", serializer=_Payload, handler=_refuse)

"""Publish bundle: placeholder until the handler lands (refuses every payload)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from approvals.registry import Action
from commerce.handlers import PUBLISH_BUNDLE


class _Payload(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raise serializers.ValidationError("Not available yet.")


def _refuse(req: Any, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("Not available yet.")


PUBLISH_BUNDLE_ACTION = Action(key=PUBLISH_BUNDLE, label="Publish bundle", serializer=_Payload, handler=_refuse)

"""The action registry: what an approval can do once approved.

Feature apps register their actions in ``AppConfig.ready()``::

    register(Action(key="service.send_reply", label="Send reply", serializer=ReplySerializer,
                    handler=send_reply, editable_fields=("body",),
                    template="service/approvals/reply.html"))

``approvals`` never imports a feature app; it only knows the keys registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from approvals.exceptions import UnknownAction

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest

Handler = Callable[["ApprovalRequest", dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Redrafted:
    """What a redraft hook may return instead of a bare payload: the payload and the AI run that wrote it."""

    payload: dict[str, Any]
    ai_run: Any = None


Redraft = Callable[["ApprovalRequest", str], "dict[str, Any] | Redrafted | None"]


@dataclass(frozen=True)
class Action:
    """One kind of thing a human may approve.

    ``serializer`` validates a whole payload (with bounds) and is given
    ``context={"subject": <model instance>}``; ``handler(request, payload)`` performs the
    action and returns a JSON-serialisable result. It must be idempotent per
    ``request.execution_key``. ``template`` renders the payload for a reviewer with
    ``{"req": …, "payload": …}``. ``amount_field`` names the payload field that authority
    limits and amount conditions apply to, and ``currency_field`` the field holding its ISO
    4217 currency (without one, amounts are taken to be in the policy's currency).
    ``material_fields`` are those whose change alters what the action does (amount,
    recipient, dates, product): a reviewer's edit of one is recorded as material and needs
    another reviewer. ``redraft(request, comment)`` returns a new payload written with the
    reviewer's comment as an instruction (or None); without it, "request changes" sends the
    item back to its requester.
    """

    key: str
    label: str
    serializer: type[serializers.Serializer]
    handler: Handler
    editable_fields: tuple[str, ...] = field(default_factory=tuple)
    template: str = "approvals/actions/generic.html"
    amount_field: str | None = None
    currency_field: str | None = None
    material_fields: tuple[str, ...] = field(default_factory=tuple)
    redraft: Redraft | None = None
    description: str = ""

    def payload_fields(self) -> list[str]:
        return list(self.serializer().fields)


_registry: dict[str, Action] = {}


def register(action: Action) -> Action:
    """Add ``action``; registering the same key twice with a different action is an error."""
    if not isinstance(action, Action):
        raise ImproperlyConfigured(f"register() expects an approvals.registry.Action, not {type(action).__name__}.")
    existing = _registry.get(action.key)
    if existing is not None and existing != action:
        raise ImproperlyConfigured(f"Approval action {action.key!r} is already registered.")
    _registry[action.key] = action
    return action


def unregister(key: str) -> None:
    """Remove an action (tests and plug-in reloads)."""
    _registry.pop(key, None)


def get_action(key: str) -> Action:
    try:
        return _registry[key]
    except KeyError:
        raise UnknownAction(f"No approval action is registered as {key!r}.") from None


def all_actions() -> list[Action]:
    return sorted(_registry.values(), key=lambda action: action.label)


class _UnregisteredPayload(serializers.Serializer):
    def validate(self, attrs: dict) -> dict:
        raise serializers.ValidationError("This action is not installed.")


def _refuse(request: ApprovalRequest, payload: dict[str, Any]) -> dict[str, Any]:
    raise UnknownAction(f"No approval action is registered as {request.action!r}.")


def placeholder_action(key: str) -> Action:
    """Stands in for an action whose app was removed: shows the raw payload, never executes."""
    return Action(
        key=key,
        label=f"{key} (not installed)",
        serializer=_UnregisteredPayload,
        handler=_refuse,
        template="approvals/actions/generic.html",
    )

"""Errors raised by the approvals services.

Every error carries a message written for the person who caused it; the UI and the
API show it as is. ``NotAllowed`` is a ``PermissionDenied`` so Django turns it into a
403 wherever it escapes.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from hitl_crm import errors


class ApprovalError(Exception):
    """Base class: ``str(error)`` is a human-readable message."""

    default_message = "This approval request cannot be processed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class NotAllowed(ApprovalError, PermissionDenied):
    """The user may not do this (no object permission, segregation of duties, …)."""

    default_message = "You are not allowed to do this."


class AuthorityExceeded(NotAllowed):
    """The amount is above what the reviewer's groups may approve under the policy."""

    default_message = "This amount is above your approval limit."


class InvalidState(ApprovalError, errors.InvalidState):
    """The request is not in a state that allows the operation (already decided, cancelled, …).

    Also the kernel's :class:`hitl_crm.errors.InvalidState`, so generic handlers catch it.
    """

    default_message = "This request can no longer be changed."


class AlreadyOpen(InvalidState):
    """An open request for the same action and subject already exists."""

    default_message = "An open approval request for this already exists."


class ExecutionInProgress(InvalidState):
    """Another worker holds a live claim on the request."""

    default_message = "This request is being executed right now."


class PayloadConflict(InvalidState):
    """The decision names a payload version that is no longer the current one.

    Someone changed the payload (an edit, a redraft) after the reviewer opened it: nothing
    is decided, and the reviewer sees the current version (``payload``, ``payload_hash``,
    ``version``) to decide again.
    """

    default_message = (
        "This request changed since you opened it: someone edited or redrafted it. "
        "Nothing was decided; review the current version and decide again."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        payload: dict | None = None,
        payload_hash: str = "",
        version: int | None = None,
        sent_hash: str = "",
    ) -> None:
        self.payload = payload or {}
        self.payload_hash = payload_hash
        self.version = version
        self.sent_hash = sent_hash
        super().__init__(message)


class InvalidInput(ApprovalError):
    """Input that names fields: ``errors`` maps a field name to its message."""

    default_message = "Some values are not valid."

    def __init__(self, errors: dict[str, str], message: str | None = None) -> None:
        self.errors = dict(errors)
        super().__init__(message or "; ".join(f"{field}: {text}" for field, text in self.errors.items()))


class InvalidPayload(InvalidInput):
    """The payload does not pass the action's validator."""


class InvalidEdits(InvalidPayload):
    """A reviewer's edits are not allowed or do not validate."""


class InvalidDecision(InvalidInput):
    """The decision itself is incomplete (e.g. a rejection without a reason)."""


class UnknownAction(ApprovalError, LookupError):
    """No action is registered under this key."""

    default_message = "Unknown approval action."


class TransientError(ApprovalError):
    """Raised by a handler when trying again later may succeed (network, SMTP, rate limit)."""

    default_message = "A temporary error occurred; the action will be retried."


class TransientExecutionError(ApprovalError):
    """Raised by the executor after a transient handler error, so the task retries with backoff."""


class LinkInvalid(ApprovalError):
    default_message = "This review link is not valid."


class LinkExpired(LinkInvalid):
    default_message = "This review link has expired. Open the review queue instead."

"""Errors shared by every app: one way to say "not now" and "not like this".

Each carries a message written for the person who caused it; the UI and the API show it as is.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``str(error)`` is a human-readable message."""

    default_message = "This cannot be done."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidState(DomainError):
    """The object is not in a state that allows the operation (already sent, closed, decided, …)."""

    default_message = "This is not possible in the current state."

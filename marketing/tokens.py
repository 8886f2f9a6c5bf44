"""Signed tokens in campaign emails: open pixel, click-through, unsubscribe, conversion credit.

Each kind has its own salt, so a token minted for one purpose is worthless for another; the
signature (``SECRET_KEY``) makes them unforgeable. They carry the send id (and, for clicks,
the destination), never an email address.
"""

from __future__ import annotations

from typing import Any

from django.core import signing

OPEN, CLICK, UNSUBSCRIBE, CONVERSION = "open", "click", "unsubscribe", "conversion"
KINDS = (OPEN, CLICK, UNSUBSCRIBE, CONVERSION)


def signer(kind: str) -> signing.Signer:
    """The signer of one kind of token (reads ``SECRET_KEY`` now: a sender makes one per batch)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown token kind {kind!r}")
    return signing.Signer(salt=f"marketing.{kind}")


def make_token(kind: str, send_id: int, url: str | None = None, *, using: signing.Signer | None = None) -> str:
    """A signed token for one send; ``using`` is ``signer(kind)`` made earlier (same bytes, less work)."""
    payload: dict[str, Any] = {"s": send_id}
    if url is not None:
        payload["u"] = url
    return (using or signer(kind)).sign_object(payload, compress=url is not None)


def read_token(kind: str, token: str) -> dict[str, Any] | None:
    """The payload of a valid token of this kind, or None for anything forged, tampered or foreign."""
    if not token or len(token) > 4000:
        return None
    try:
        payload = signer(kind).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        return None
    if kind == CLICK and not isinstance(payload.get("u"), str):
        return None
    return payload

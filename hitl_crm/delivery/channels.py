"""Channels: how a prepared delivery's content becomes an effect, and what an error proves.

A transmitter is ``fn(delivery) -> dict`` (the result to keep). It raises
:class:`DeliveryDeferred` when the outside system certainly did not take the effect (try
again later), :class:`DeliveryRefused` when it certainly refused it for good; any other
exception means nobody knows whether the effect happened.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection

if TYPE_CHECKING:
    from hitl_crm.delivery.models import Delivery

logger = logging.getLogger(__name__)

EMAIL_TRANSMITTER = "hitl_crm.delivery.channels.transmit_email"


class DeliveryDeferred(Exception):
    """Certainly not delivered (server unreachable before the message, or a 4xx answer): retry later."""


class DeliveryRefused(Exception):
    """Certainly not accepted, for good (5xx, recipients refused, gateway refusal)."""


def message_id_for(key: str, from_email: str) -> str:
    """``<key@domain-of-from>``: the Message-ID is the execution key, so a resend is recognisably the same."""
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "hitl-crm.invalid"
    return f"<{key}@{domain}>"


def email_content(message: EmailMessage) -> dict[str, Any]:
    """What is sent, as JSON: enough to build the identical message again."""
    return {
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "reply_to": list(message.reply_to),
        "subject": message.subject,
        "body": message.body,
        "headers": dict(message.extra_headers),
        "alternatives": [[content, mimetype] for content, mimetype in getattr(message, "alternatives", [])],
    }


def email_from_content(content: dict[str, Any], *, connection: Any = None) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=content["subject"],
        body=content["body"],
        from_email=content["from_email"],
        to=content["to"],
        cc=content.get("cc") or None,
        reply_to=content.get("reply_to") or None,
        headers=content.get("headers") or {},
        connection=connection,
    )
    for body, mimetype in content.get("alternatives") or []:
        message.attach_alternative(body, mimetype)
    return message


def smtp_not_delivered(exc: BaseException) -> bool:
    """Errors that prove the server did not take the message (safe to try again later)."""
    if isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500:
        return True
    return isinstance(exc, (smtplib.SMTPConnectError, ConnectionRefusedError, socket.gaierror))


def smtp_refused(exc: BaseException) -> bool:
    """Errors that prove the server refused the message for good."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def open_connection(connection: Any) -> None:
    """Open the mail connection; any failure here happens before a message is handed over."""
    try:
        connection.open()
    except Exception as exc:
        if smtp_refused(exc):
            raise DeliveryRefused(f"The mail server refused the connection: {exc}") from exc
        raise DeliveryDeferred(f"Mail server unavailable: {exc}") from exc


def send_one(message: EmailMessage, connection: Any) -> None:
    """Hand one message to an open connection; classify what the outcome proves.

    A timeout or a dropped connection after the message was handed over proves nothing: it is
    re-raised as is, and the caller records the outcome as unknown.
    """
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:
        if smtp_not_delivered(exc):
            raise DeliveryDeferred(f"Mail server deferred the message: {exc}") from exc
        if smtp_refused(exc):
            raise DeliveryRefused(f"{type(exc).__name__}: {exc}") from exc
        raise
    if not accepted:
        raise DeliveryRefused("The mail backend did not accept the message.")


def transmit_email(delivery: Delivery) -> dict[str, Any]:
    """The email transmitter: build the stored message, send it over a fresh connection."""
    connection = get_connection()
    open_connection(connection)
    try:
        message = email_from_content(delivery.content, connection=connection)
        send_one(message, connection)
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide the outcome
            logger.warning("Closing the mail connection failed", exc_info=True)
    return {"message_id": delivery.content.get("headers", {}).get("Message-ID", "")}

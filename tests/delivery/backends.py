"""Mail backends for the delivery tests: record what the kernel hands over and in what context."""

from __future__ import annotations

import smtplib

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

SEEN: list[dict] = []
BEHAVIOUR = {"raise": None}


class RecordingBackend(EmailBackend):
    """locmem, plus: was a transaction open (so row locks possibly held) while the message was handed over?"""

    def send_messages(self, messages):
        SEEN.append({"in_atomic_block": connection.in_atomic_block, "count": len(messages)})
        error = BEHAVIOUR["raise"]
        if error is not None:
            raise error
        return super().send_messages(messages)


def reset() -> None:
    SEEN.clear()
    BEHAVIOUR["raise"] = None
    mail.outbox = []


DISCONNECTED_AFTER_DATA = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
DEFERRED = smtplib.SMTPDataError(451, b"Try again later")
REFUSED = smtplib.SMTPDataError(554, b"Message rejected")

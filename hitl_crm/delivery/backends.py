"""Mail backends of the delivery kernel (settings name them by dotted path)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class EmlFileBackend(BaseEmailBackend):
    """Write each message as one ``.eml`` file in ``EMAIL_FILE_PATH``.

    The embedded default: nothing leaves the machine, and the demo's Outbox page
    (and any mail client) can open every message exactly as it would have been sent.
    """

    _lock = threading.Lock()

    def __init__(self, *args, file_path: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.file_path = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        self.file_path.mkdir(parents=True, exist_ok=True)
        sent = 0
        with self._lock:
            for message in email_messages:
                if not message.recipients():
                    continue
                stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
                target = self.file_path / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
                target.write_bytes(message.message().as_bytes(linesep="\r\n"))
                sent += 1
        return sent

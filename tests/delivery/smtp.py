"""A real SMTP server on 127.0.0.1 for the kill tests: records every message, and can stall after
DATA (before answering 250) so that a worker is caught with the message handed over but unconfirmed."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


class StallingHandler:
    def __init__(self, *, stall_at: int | None) -> None:
        self.stall_at = stall_at  # the n-th message (1-based) and every later one stall while ``stalling`` is set
        self.stalling = threading.Event()
        if stall_at is not None:
            self.stalling.set()
        self.lock = threading.Lock()
        self.received: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        with self.lock:
            self.received.append(message_from_bytes(envelope.original_content or envelope.content))
            number = len(self.received)
        while self.stall_at is not None and number >= self.stall_at and self.stalling.is_set():
            await asyncio.sleep(0.05)  # the client waits for our answer to DATA
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def headers(self, name: str) -> list[str]:
        with self.lock:
            return [str(message[name]) for message in self.received]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(*, stall_at: int | None = None) -> Iterator[tuple[StallingHandler, int]]:
    """Run the server in a thread; yields (handler, port)."""
    handler = StallingHandler(stall_at=stall_at)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.stalling.clear()
        controller.stop()

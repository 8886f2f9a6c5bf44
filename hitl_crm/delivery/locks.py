"""Session-level locks that prove a worker is alive without holding a row lock or a transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def session_lock(name: str) -> Iterator[bool | None]:
    """A PostgreSQL advisory lock for ``name``: True (ours), False (a live session has it).

    It dies with the holder's connection, so taking it proves that whoever held it before is
    gone. Elsewhere (SQLite) it yields None, and callers fall back to a lease.
    """
    if connection.vendor != "postgresql":
        yield None
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

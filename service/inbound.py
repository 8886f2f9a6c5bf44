"""Parsing inbound mail: ``.eml`` bytes, mbox files and API payloads into one :class:`InboundMail`.

Pure functions, no database. Anything that cannot become a usable message raises
:class:`MalformedMail` naming the field and the reason, so callers report it instead of
dropping it silently.
"""

from __future__ import annotations

import hashlib
import html
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.html import strip_tags

from service.conf import app_settings

_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|tr)\s*(?:\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)+", re.IGNORECASE
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_QUOTE_HEADER = re.compile(
    r"^\s*(?:On .{5,200} wrote:|-{2,}\s*Original Message\s*-{2,}|From: .*\S+@\S+.*)\s*$", re.IGNORECASE
)


class MalformedMail(ValueError):
    """A message that cannot be stored; ``field`` names what is wrong."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


@dataclass(frozen=True)
class InboundMail:
    sender: str
    body: str
    subject: str = ""
    sender_name: str = ""
    to: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    received_at: datetime | None = None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first (In-Reply-To, then References newest first)."""
        ids = [self.in_reply_to, *reversed(self.references)]
        return list(dict.fromkeys(i for i in ids if i))


def normalise_subject(subject: str) -> str:
    """``"RE: Fwd: [Ticket] Where is my order?"`` → ``"where is my order?"`` (the threading key)."""
    text = " ".join((subject or "").split())
    previous = None
    while previous != text:
        previous, text = text, _PREFIX.sub("", text)
    return text.strip().lower()[:300]


def message_ids(raw: str) -> list[str]:
    """Every ``<id>`` in a header value (References holds several)."""
    found = _MESSAGE_ID.findall(raw or "")
    if not found and (raw or "").strip() and "@" in raw and " " not in raw.strip():
        found = [f"<{raw.strip().strip('<>')}>"]  # a bare id without brackets
    return [m[:255] for m in found]


def synthetic_message_id(*, sender: str, subject: str, sent_at: datetime | None, body: str) -> str:
    """A stable id for mail without a Message-ID, so the same file read twice is still a duplicate."""
    material = "\x1f".join([sender.lower(), subject, sent_at.isoformat() if sent_at else "", body])
    return f"<{hashlib.sha256(material.encode('utf-8')).hexdigest()[:40]}@inbound.hitl-crm.invalid>"


def new_text(body: str) -> str:
    """Only what the sender wrote in this message: drops ``> …`` lines and everything from an
    "On <date>, X wrote:" header (also when a mail client wraps it over two lines) or an
    "-----Original Message-----" block on. Empty when the message is nothing but a quote."""
    lines = (body or "").replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        wrapped = f"{line.strip()} {lines[index + 1].strip()}" if index + 1 < len(lines) else ""
        if _QUOTE_HEADER.match(line) or (line.lstrip().startswith("On ") and _QUOTE_HEADER.match(wrapped)):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def strip_quoted(body: str) -> str:
    """The new text of a reply: drops the quoted previous message (``> …`` lines, "On … wrote:").
    A message that is all quote is kept whole rather than lost."""
    unquoted = "\n".join(line for line in body.replace("\r\n", "\n").split("\n") if not line.lstrip().startswith(">"))
    return new_text(body) or unquoted.strip() or body.strip()


def _clean_sender(raw: str) -> tuple[str, str]:
    name, address = parseaddr(raw or "")
    address = address.strip().lower()
    if not address:
        raise MalformedMail("from", "there is no sender address.")
    try:
        validate_email(address)
    except ValidationError:
        raise MalformedMail("from", f"“{address[:100]}” is not an email address.") from None
    return name.strip()[:200], address[:254]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value, timezone.get_default_timezone())


def build(
    *,
    sender: str,
    body: str,
    subject: str = "",
    to: str = "",
    message_id: str = "",
    in_reply_to: str = "",
    references: str | list[str] = "",
    sent_at: datetime | None = None,
    received_at: datetime | None = None,
) -> InboundMail:
    """Validate and normalise the parts of a message (from any source)."""
    name, address = _clean_sender(sender)
    if address == parseaddr(app_settings.FROM_EMAIL)[1].lower():
        raise MalformedMail("from", "the message comes from our own support address (a mail loop); not stored.")
    subject = " ".join((subject or "").split())[:300]
    body = strip_quoted(body or "")
    if not body.strip():
        raise MalformedMail("body", "the message has no text.")
    if len(body.encode("utf-8")) > app_settings.MAX_INBOUND_BYTES:
        raise MalformedMail("body", f"the text is larger than {app_settings.MAX_INBOUND_BYTES:,} bytes.")
    ids = message_ids(message_id)
    if message_id and not ids:
        raise MalformedMail("message_id", f"“{message_id[:100]}” is not a Message-ID (expected <id@host>).")
    refs = references if isinstance(references, list) else message_ids(references)
    sent_at = _aware(sent_at)
    mid = ids[0] if ids else synthetic_message_id(sender=address, subject=subject, sent_at=sent_at, body=body)
    return InboundMail(
        sender=address,
        sender_name=name,
        body=body,
        subject=subject,
        to=(to or "")[:1000],
        message_id=mid,
        in_reply_to=(message_ids(in_reply_to) or [""])[0],
        references=[r for ref in refs for r in message_ids(ref)][-20:],
        sent_at=sent_at,
        received_at=_aware(received_at),
    )


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        if message.is_multipart():
            return ""
        part = message
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError) as exc:
        raise MalformedMail("body", f"the text cannot be decoded ({type(exc).__name__}).") from None
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html.unescape(strip_tags(re.sub(r"(?i)<br\s*/?>|</p>", "\n", content)))
    return content


def parse_eml(raw: bytes) -> InboundMail:
    """One RFC 5322 message as bytes → :class:`InboundMail` (or :class:`MalformedMail`)."""
    if not raw or not raw.strip():
        raise MalformedMail("message", "the file is empty.")
    if len(raw) > app_settings.MAX_INBOUND_BYTES * 2:
        raise MalformedMail("message", f"the message is larger than {app_settings.MAX_INBOUND_BYTES * 2:,} bytes.")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it still refuses is malformed
        raise MalformedMail("message", f"cannot be parsed ({type(exc).__name__}).") from None
    if not message.keys():
        raise MalformedMail("message", "it has no headers (not an email).")
    try:
        from_header = str(message.get("From", "") or "")
        to_header = str(message.get("To", "") or "")
        subject = str(message.get("Subject", "") or "")
        date_header = str(message.get("Date", "") or "")
    except (ValueError, IndexError, AttributeError) as exc:  # broken encoded words, bad address lists
        raise MalformedMail("headers", f"a header cannot be read ({type(exc).__name__}).") from None
    try:
        sent_at = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError, IndexError):
        sent_at = None  # a broken Date is not worth losing the message over
    auto = str(message.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        raise MalformedMail("auto_submitted", f"an automatic message (Auto-Submitted: {auto[:40]}); not answered.")
    to = ", ".join(addr for _, addr in getaddresses([to_header]) if addr)
    return build(
        sender=from_header,
        body=_text_of(message),
        subject=subject,
        to=to,
        message_id=str(message.get("Message-ID", "") or ""),
        in_reply_to=str(message.get("In-Reply-To", "") or ""),
        references=str(message.get("References", "") or ""),
        sent_at=sent_at,
    )


def is_mbox(path: Path) -> bool:
    """An mbox file starts with a ``From `` separator line."""
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(label, raw bytes)`` for each message in an mbox file."""
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.iterkeys(), start=1):
            yield f"{path.name}#{index}", box.get_bytes(key)
    finally:
        box.close()


def format_address(name: str, address: str) -> str:
    """``"Olivia Andersen <olivia@x.example>"`` with the name quoted as needed."""
    if not name:
        return address
    username, _, domain = address.partition("@")
    return str(Address(display_name=name, username=username, domain=domain))

"""Campaign delivery: builds each email and hands approved sends to the mail backend.

The only module of this app that touches ``django.core.mail``. It runs inside dispatch
tasks that the approval handler (``marketing.handlers``) enqueued, and sends only:

- rows in ``queued`` state, which only an executed ``marketing.send_campaign`` approval puts
  there, rendered from the content frozen by that approval (``Campaign.approved_content``);
- to contacts who still have consent and are not on the suppression list at send time.

Exactly once per contact: ``Send`` is unique per (campaign, contact). A worker claims one row
at a time (``queued → sending``, committed) before handing the message to the backend; its
``sent`` mark is committed with the next row's claim (one commit per message), or on its own
before a throttle pause and after the last message, so after a crash every row is either ``sent``,
untouched, or — at most one per dead worker — ``sending``. That one may or may not have
reached the mail server; it becomes ``interrupted`` and is never retried automatically (a
missed email is recoverable, a duplicate is not): the delivery kernel (``hitl_crm.delivery``)
gets it as a "possibly sent" delivery, and a person sends it again or marks it as sent. A
dispatch task redelivered after a worker restart therefore skips everything already sent. What
a mail server's answer proves (deferred, refused, unknown) is the kernel's rule too.
"""

from __future__ import annotations

import html
import logging
import re
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from hitl_crm.delivery.channels import DeliveryDeferred, DeliveryRefused, open_connection, send_one
from hitl_crm.delivery.locks import session_lock
from marketing import tokens
from marketing.conf import app_settings
from marketing.models import Campaign, Send, Suppression

logger = logging.getLogger(__name__)

URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
INTERRUPTED_ERROR = (
    "The worker stopped while handing this message to the mail server, so it may or may not have been "
    "delivered. It was not retried automatically, so that nobody gets it twice."
)


class TransientSendError(Exception):
    """The mail server is unreachable or deferred us: nothing was delivered; try the batch later."""


def extract_urls(text: str) -> list[str]:
    """The http(s) links written in ``text``, in order, without trailing punctuation."""
    found = []
    for match in URL_RE.finditer(text or ""):
        url = match.group(0).rstrip(_TRAILING)
        if url not in found:
            found.append(url)
    return found


def absolute(path: str) -> str:
    return f"{app_settings.SITE_URL}{path}"


_SLOT = "0hitl0slot0"  # stands in for the token while a link's URL is reversed once per batch
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_.:-]+")  # what signed tokens are made of; reverse() quotes none of it


class Composer:
    """What every email of one batch shares, worked out once: the signers, the tracking and
    unsubscribe URLs reversed with a placeholder (then filled by string formatting, byte for
    byte what ``reverse()`` gives for each token), the sender, the company, the domains.

    Made per batch, not per process, so settings and the URL prefix are read when the batch starts.
    """

    def __init__(self) -> None:
        self.site = app_settings.SITE_URL
        self.signers = {kind: tokens.signer(kind) for kind in tokens.KINDS}
        self.prefixes = {name: self._split(name) for name in ("track_open", "track_click", "unsubscribe")}
        self.company = getattr(settings, "HITL_CRM_COMPANY_NAME", "us")
        self.from_email = app_settings.FROM_EMAIL
        self.mailto = app_settings.UNSUBSCRIBE_MAILTO
        self.domain = parseaddr(self.from_email)[1].rpartition("@")[2] or "hitl-crm.invalid"

    def _split(self, name: str) -> tuple[str, str] | None:
        head, slot, tail = reverse(f"marketing:{name}", args=[_SLOT]).partition(_SLOT)
        return (f"{self.site}{head}", tail) if slot and _SLOT not in tail else None

    def url(self, name: str, kind: str, send_id: int, target: str | None = None) -> str:
        token = tokens.make_token(kind, send_id, target, using=self.signers[kind])
        parts = self.prefixes[name]
        if parts is None or not _PLAIN_TOKEN.fullmatch(token):
            return absolute(reverse(f"marketing:{name}", args=[token]))
        return f"{parts[0]}{token}{parts[1]}"

    def tracking_urls(self, send_id: int) -> dict[str, str]:
        return {
            "open": self.url("track_open", tokens.OPEN, send_id),
            "unsubscribe": self.url("unsubscribe", tokens.UNSUBSCRIBE, send_id),
        }

    def click_url(self, send_id: int, url: str) -> str:
        return self.url("track_click", tokens.CLICK, send_id, url)

    def message_id(self, campaign_id: int, send_id: int) -> str:
        return f"<mkt-{campaign_id}-{send_id}@{self.domain}>"


def tracking_urls(send_id: int) -> dict[str, str]:
    return Composer().tracking_urls(send_id)


def click_url(send_id: int, url: str) -> str:
    return Composer().click_url(send_id, url)


def with_ref(url: str, send_id: int) -> str:
    """The destination with the conversion token appended (when configured), for the partner to post back."""
    param = app_settings.CLICK_REF_PARAM
    if not param:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    query += urlencode({param: tokens.make_token(tokens.CONVERSION, send_id)})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def personalise(text: str, contact: Any) -> str:
    return text.replace("{first_name}", contact.first_name or "there")


def _html_paragraphs(text: str, send_id: int, composer: Composer) -> str:
    """Escape the approved text and turn its links into tracked links (and nothing else)."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        pieces, last = [], 0
        for match in URL_RE.finditer(paragraph):
            url = match.group(0).rstrip(_TRAILING)
            start, end = match.start(), match.start() + len(url)
            pieces.append(html.escape(paragraph[last:start]))
            pieces.append(f'<a href="{html.escape(composer.click_url(send_id, url))}">{html.escape(url)}</a>')
            last = end
        pieces.append(html.escape(paragraph[last:]))
        out.append("<p>" + "".join(pieces).replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def message_id(campaign_id: int, send_id: int) -> str:
    domain = parseaddr(app_settings.FROM_EMAIL)[1].rpartition("@")[2] or "hitl-crm.invalid"
    return f"<mkt-{campaign_id}-{send_id}@{domain}>"


def build_message(
    *, send: Send, contact: Any, copy: dict[str, str], connection: Any = None, composer: Composer | None = None
) -> EmailMultiAlternatives:
    """The email for one send: text and HTML parts, open pixel, tracked links, List-Unsubscribe.

    The Message-ID is stable per send, so a receiving server or ESP can drop a duplicate. A
    sender passes one ``composer`` for the whole batch; without one, a fresh one is made.
    """
    composer = composer or Composer()
    company = composer.company
    links = composer.tracking_urls(send.pk)
    body = personalise(copy["body"], contact)
    footer_text = (
        f"\n\n--\nYou receive this because you agreed to hear from {company}.\nUnsubscribe: {links['unsubscribe']}\n"
    )
    preheader = html.escape(personalise(copy.get("preheader") or "", contact))
    html_body = (
        "<!doctype html><html><body>"
        f'<div style="display:none;max-height:0;overflow:hidden">{preheader}</div>\n'
        f"{_html_paragraphs(body, send.pk, composer)}\n"
        f'<p style="font-size:12px;color:#6b7280">You receive this because you agreed to hear from '
        f'{html.escape(company)}. <a href="{html.escape(links["unsubscribe"])}">Unsubscribe</a></p>'
        f'<img src="{html.escape(links["open"])}" width="1" height="1" alt="">'
        "</body></html>"
    )
    mailto = f"mailto:{composer.mailto}?subject=unsubscribe-{send.pk}"
    message = EmailMultiAlternatives(
        subject=personalise(copy["subject"], contact),
        body=body + footer_text,
        from_email=composer.from_email,
        to=[contact.email],
        headers={
            "Message-ID": composer.message_id(send.campaign_id, send.pk),
            "List-Unsubscribe": f"<{links['unsubscribe']}>, <{mailto}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-HITL-Campaign": str(send.campaign_id),
        },
        connection=connection,
    )
    message.attach_alternative(html_body, "text/html")
    return message


def approved_copy(campaign: Campaign, phase: str) -> dict[str, dict[str, str]]:
    """``{variant_id: {subject, preheader, body, style}}`` exactly as approved for ``phase``."""
    return (campaign.approved_content.get(phase) or {}).get("variants") or {}


def phase_is_approved(campaign: Campaign, phase: str) -> bool:
    """True only if an executed ``marketing.send_campaign`` request froze this phase's content."""
    from django.contrib.contenttypes.models import ContentType

    from approvals.models import ApprovalRequest
    from marketing.handlers import SEND_CAMPAIGN

    key = (campaign.approved_content.get(phase) or {}).get("key")
    if not key:
        return False
    return ApprovalRequest.objects.filter(
        action=SEND_CAMPAIGN,
        content_type=ContentType.objects.get_for_model(Campaign),
        object_id=str(campaign.pk),
        execution_key=key,
        status=ApprovalRequest.Status.EXECUTED,
    ).exists()


def _range_lock(campaign_id: int, first_id: int) -> AbstractContextManager[bool | None]:
    """A PostgreSQL session lock on one batch range: True (ours), False (a live worker has it).

    It dies with the worker's connection, so holding it proves that any row of the range
    still in ``sending`` belongs to a dead worker. Elsewhere: None (fall back to the lease).
    """
    return session_lock(f"marketing-send:{campaign_id}:{first_id}")


def _resolve_dead_claims(rows: Any, *, lock_held: bool, copies: dict[str, dict[str, str]]) -> int:
    stale = rows.filter(status=Send.Status.SENDING)
    if not lock_held:
        stale = stale.filter(claimed_at__lt=timezone.now() - timedelta(seconds=app_settings.SEND_LEASE_SECONDS))
    found = list(stale.select_related("contact"))
    count = 0
    for row in found:
        mine = Send.objects.filter(pk=row.pk, status=Send.Status.SENDING, claim_token=row.claim_token)
        if mine.update(status=Send.Status.INTERRUPTED, claim_token="", error=INTERRUPTED_ERROR):
            count += 1
            _hand_to_a_person(row, copies, reason="Its worker stopped while handing it to the mail server.")
    if count:
        logger.warning("Campaign send: %s message(s) interrupted by a dead worker were set aside", count)
    return count


def delivery_key(send: Send) -> str:
    """The delivery kernel's key of one campaign email (the local part of its Message-ID)."""
    return f"mkt-{send.campaign_id}-{send.pk}"


def _hand_to_a_person(row: Send, copies: dict[str, dict[str, str]], *, reason: str) -> None:
    """An interrupted send becomes a "possibly sent" delivery: a person sends it again or marks it sent."""
    from hitl_crm.delivery.channels import email_content
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import Outbound, delivery_record_unknown

    copy = copies.get(str(row.variant_id))
    if copy is None or not row.contact.email:
        return
    message = build_message(send=row, contact=row.contact, copy=copy)
    try:
        url = reverse("marketing:campaign_detail", args=[row.campaign_id])
    except NoReverseMatch:
        url = ""
    delivery_record_unknown(
        key=delivery_key(row),
        outbound=Outbound(
            channel=Delivery.Channel.EMAIL,
            kind=Delivery.Kind.CAMPAIGN,
            content=email_content(message),
            recipient=row.contact.email,
            summary=str(message.subject),  # our own subject line: a str (the stubs also allow a lazy one)
        ),
        on_resolved=ON_RESOLVED,
        source=f"marketing.send:{row.pk}",
        source_url=url,
        reason=reason,
    )


ON_RESOLVED = "marketing.delivery.send_resolved"


def send_resolved(*, delivery_id: int) -> int:
    """The delivery kernel's hook: a person sent an interrupted email again, or marked it sent."""
    from hitl_crm.delivery.models import Delivery

    delivery = Delivery.objects.filter(pk=delivery_id, state=Delivery.State.SENT).first()
    if delivery is None or not delivery.source.startswith("marketing.send:"):
        return 0
    send_id = int(delivery.source.rpartition(":")[2])
    return Send.objects.filter(pk=send_id, status=Send.Status.INTERRUPTED).update(
        status=Send.Status.SENT, sent_at=delivery.sent_at or timezone.now(), error=""
    )


class _Throttle:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = 0.0

    def must_wait(self) -> bool:
        """True if :meth:`wait` is going to sleep before the next message."""
        return bool(self.interval) and self.next_at > time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


@dataclass
class BatchResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: int = 0
    busy: bool = False
    refused: str = ""
    errors: list[str] = field(default_factory=list)


def _reachable(contact: Any, suppressed: set[str]) -> str:
    """Why this contact may not get marketing email now ("" if they may)."""
    if not contact.email:
        return "No email address."
    if not contact.email_consent or contact.unsubscribed_at is not None:
        return "No marketing consent at send time."
    if contact.email.lower() in suppressed:
        return "On the suppression list."
    return ""


def send_batch(*, campaign_id: int, phase: str, first_id: int, last_id: int) -> BatchResult:
    """Send the queued rows of one range of one phase; safe to run twice or after a crash."""
    from marketing.services import campaign_phase_check_finished

    result = BatchResult()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        result.refused = "The campaign is not sending."
        return result
    if not phase_is_approved(campaign, phase):
        # Defence in depth: rows only become queued through the handler; refuse loudly if not.
        logger.error("Campaign %s phase %s has no executed approval: nothing sent", campaign_id, phase)
        result.refused = "No executed approval for this phase."
        return result
    copies = approved_copy(campaign, phase)
    in_range = Send.objects.filter(campaign_id=campaign_id, phase=phase, id__gte=first_id, id__lte=last_id)
    with _range_lock(campaign_id, first_id) as held:
        if held is False:
            result.busy = True  # a live worker has this range; its task will finish it
            return result
        result.interrupted = _resolve_dead_claims(in_range, lock_held=bool(held), copies=copies)
        rows = list(in_range.filter(status=Send.Status.QUEUED).select_related("contact").order_by("id"))
        emails = [r.contact.email.lower() for r in rows if r.contact.email]
        suppressed = set(Suppression.objects.filter(email__in=emails).values_list("email", flat=True))
        deliverable = []
        for row in rows:
            reason = _reachable(row.contact, suppressed)
            if not reason and str(row.variant_id) not in copies:
                reason = "Its variant was not part of the approved content."
            if reason:
                result.skipped += Send.objects.filter(pk=row.pk, status=Send.Status.QUEUED).update(
                    status=Send.Status.SKIPPED, error=reason
                )
            else:
                deliverable.append(row)
        if deliverable:
            _deliver(deliverable, copies, result)
    campaign_phase_check_finished(campaign_id=campaign_id, phase=phase)
    return result


class _Rows:
    """The statements every message costs, as plain SQL on one cursor, each in autocommit.

    One commit per message: the "sent" mark of a message and the claim of the next one are one
    statement, so every message costs a single durable commit (50,000 of them for a big
    campaign) instead of two. A worker still has at most one row in ``sending`` at any moment —
    the one it is handing over — so a crash leaves exactly what it left before: rows that are
    ``sent``, untouched, or one ``sending`` whose outcome a person decides. The claim is durable
    before its message is handed over; the "sent" mark of the last message is its own commit.
    """

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        table = db_connection.ops.quote_name(Send._meta.db_table)
        self.claim_sql = (
            f"UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s WHERE id = %s AND status = %s"
        )
        self.sent_sql = (
            f"UPDATE {table} SET status = %s, sent_at = %s, claim_token = '', error = '' "
            "WHERE id = %s AND (claim_token = %s OR status = %s)"
        )
        # (sent id, sent token, interrupted) for the previous row, (next id, queued) for the claim
        self.sent_and_claim_sql = (
            f"UPDATE {table} SET "
            "status = CASE WHEN id = %s THEN %s ELSE %s END, "
            "sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END, "
            "claim_token = CASE WHEN id = %s THEN '' ELSE %s END, "
            "claimed_at = CASE WHEN id = %s THEN claimed_at ELSE %s END, "
            "error = CASE WHEN id = %s THEN '' ELSE error END "
            "WHERE (id = %s AND (claim_token = %s OR status = %s)) OR (id = %s AND status = %s) "
            "RETURNING id"
        )

    def claim(self, pk: int, token: str) -> bool:
        self.cursor.execute(self.claim_sql, [Send.Status.SENDING, token, timezone.now(), pk, Send.Status.QUEUED])
        return self.cursor.rowcount == 1

    def mark_sent(self, pk: int, token: str) -> int:
        self.cursor.execute(self.sent_sql, [Send.Status.SENT, timezone.now(), pk, token, Send.Status.INTERRUPTED])
        return self.cursor.rowcount

    def mark_sent_and_claim(self, sent_pk: int, pk: int, token: str) -> tuple[int, bool]:
        """Mark ``sent_pk`` sent and claim ``pk``, one commit: (rows marked sent, claimed)."""
        now = timezone.now()
        sent, sending, queued = Send.Status.SENT, Send.Status.SENDING, Send.Status.QUEUED
        self.cursor.execute(
            self.sent_and_claim_sql,
            [sent_pk, sent, sending, sent_pk, now, sent_pk, token, sent_pk, now, sent_pk]
            + [sent_pk, token, Send.Status.INTERRUPTED, pk, queued],
        )
        changed = {row[0] for row in self.cursor.fetchall()}
        return int(sent_pk in changed), pk in changed


def _deliver(rows: list[Send], copies: dict[str, dict[str, str]], result: BatchResult) -> None:
    """Claim, send, mark — one row at a time, each state committed before the next step (the
    kernel's prepared → sending → sent | failed | unknown, on the ``Send`` rows themselves): the
    claim is durable before the message is handed over and nothing is locked while the server
    works. The "sent" mark rides on the next row's claim (see :class:`_Rows`), except before a
    throttle pause, so that no handed-over message waits in ``sending`` while the worker sleeps."""
    token = uuid.uuid4().hex
    throttle = _Throttle(app_settings.SEND_RATE)
    composer = Composer()
    mail = get_connection()
    try:
        open_connection(mail)
    except DeliveryDeferred as exc:
        raise TransientSendError(str(exc)) from exc
    except DeliveryRefused as exc:
        raise TransientSendError(f"Mail server refused the connection: {exc}") from exc
    cursor = db_connection.cursor()
    sql = _Rows(cursor)
    unmarked: int | None = None  # handed over and accepted, its "sent" mark not yet committed
    try:
        for row in rows:
            if unmarked is not None and throttle.must_wait():
                result.sent += sql.mark_sent(unmarked, token)
                unmarked = None
            throttle.wait()
            if unmarked is None:
                claimed = sql.claim(row.pk, token)
            else:
                marked, claimed = sql.mark_sent_and_claim(unmarked, row.pk, token)
                result.sent += marked
                unmarked = None
            if not claimed:
                continue  # someone else took it, or it was cancelled meanwhile
            message = build_message(
                send=row, contact=row.contact, copy=copies[str(row.variant_id)], connection=mail, composer=composer
            )
            mine = Send.objects.filter(pk=row.pk, claim_token=token)
            try:
                send_one(message, mail)
            except DeliveryDeferred as exc:
                mine.update(status=Send.Status.QUEUED, claim_token="", claimed_at=None)
                raise TransientSendError(f"Mail server deferred the batch: {exc}") from exc
            except DeliveryRefused as exc:
                result.failed += mine.update(status=Send.Status.FAILED, claim_token="", error=str(exc)[:500])
                continue
            except Exception as exc:
                logger.exception("Campaign send %s: delivery outcome unknown", row.pk)
                interrupted = mine.update(
                    status=Send.Status.INTERRUPTED, claim_token="", error=f"{INTERRUPTED_ERROR} ({exc})"[:500]
                )
                if interrupted:
                    result.interrupted += interrupted
                    _hand_to_a_person(row, copies, reason=f"({type(exc).__name__}: {exc})")
                continue
            unmarked = row.pk
        if unmarked is not None:
            result.sent += sql.mark_sent(unmarked, token)
    finally:
        cursor.close()
        try:
            mail.close()
        except Exception:  # closing a broken SMTP connection must not hide the real outcome
            logger.warning("Closing the mail connection failed", exc_info=True)

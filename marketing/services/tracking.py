"""What recipients do with a campaign email: opens, clicks, unsubscribes, conversions, and the
suppression list.

Opens, clicks and unsubscribes come from public signed links: they are system entry points that act
for the recipient the token names, with no user. Adding an address by hand and crediting a
conversion take the person (or partner account) who does it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.audit import audit_record
from hitl_crm.contacts.models import Activity
from hitl_crm.contacts.services import activity_record, contact_unsubscribe
from hitl_crm.permissions import require_permission
from marketing.models import Conversion, Send, Suppression


def send_record_open(*, send_id: int) -> bool:
    """The first open of a sent email (the pixel); later opens change nothing."""
    return bool(
        Send.objects.filter(pk=send_id, status=Send.Status.SENT, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
    )


@transaction.atomic
def send_record_click(*, send_id: int, url: str) -> str | None:
    """The destination if ``url`` is a link of the approved email of this send (else None: no open redirect).

    The first click is noted (and counts as an open: images are often blocked) and written to the
    contact's timeline.
    """
    from marketing.delivery import approved_copy, extract_urls

    send = Send.objects.select_related("campaign", "contact").filter(pk=send_id, status=Send.Status.SENT).first()
    if send is None:
        return None
    copy = approved_copy(send.campaign, send.phase).get(str(send.variant_id))
    if copy is None or url not in extract_urls(copy["body"]):
        return None
    now = timezone.now()
    first = Send.objects.filter(pk=send.pk, clicked_at__isnull=True).update(clicked_at=now)
    Send.objects.filter(pk=send.pk, opened_at__isnull=True).update(opened_at=now)
    if first:
        activity_record(
            contact=send.contact,
            kind=Activity.Kind.SITE_VISIT,
            source="marketing",
            summary=f"Clicked {url} in the campaign “{send.campaign.name}”"[:300],
            data={"campaign": send.campaign_id, "send": send.pk, "url": url},
        )
    return url


def _suppress(*, email: str, reason: str, source: str, actor: User | None) -> Suppression:
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": "Enter an email address."})
    if reason not in Suppression.Reason.values:
        raise ValidationError({"reason": f"Use one of: {', '.join(Suppression.Reason.values)}."})
    suppression, created = Suppression.objects.get_or_create(
        email=email, defaults={"reason": reason, "source": source[:60]}
    )
    if created:
        audit_record(
            verb="marketing.suppression_added",
            actor=actor,
            target=suppression,
            data={"before": None, "after": {"reason": reason, "source": source[:60]}},
        )
    return suppression


@transaction.atomic
def suppression_add(
    *, email: str, actor: User, reason: str = Suppression.Reason.MANUAL, source: str = ""
) -> Suppression:
    """A person puts ``email`` on the suppression list (``marketing.add_suppression``): never email it
    again. Idempotent; the first reason is kept."""
    require_permission(actor, "marketing.add_suppression")
    return _suppress(email=email, reason=reason, source=source, actor=actor)


@transaction.atomic
def send_unsubscribe(*, send_id: int, source: str) -> Send | None:
    """The recipient of this send leaves: suppression list, consent withdrawn, timeline entry.

    A system entry point: the signed unsubscribe link is the authority (there is no user)."""
    send = Send.objects.select_related("contact").filter(pk=send_id).first()
    if send is None:
        return None
    if send.contact.email:
        _suppress(email=send.contact.email, reason=Suppression.Reason.UNSUBSCRIBED, source=source, actor=None)
    contact_unsubscribe(contact=send.contact, source="marketing")
    Send.objects.filter(pk=send.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
    return send


@transaction.atomic
def conversion_record(
    *,
    send: Send,
    actor: User,
    occurred_at: datetime,
    value: Decimal | None = None,
    external_id: str = "",
    source: str = "api",
) -> tuple[Conversion, bool]:
    """Credit a conversion to a sent email (``marketing.add_conversion``); a repeated ``external_id``
    returns the first one."""
    require_permission(actor, "marketing.add_conversion")
    if send.status != Send.Status.SENT:
        raise ValidationError({"send": "Only an email that was sent can convert."})
    if external_id:
        existing = Conversion.objects.filter(send=send, external_id=external_id).first()
        if existing is not None:
            return existing, False
    conversion = Conversion.objects.create(
        send=send, occurred_at=occurred_at, value=value, external_id=external_id[:100], source=source[:40]
    )
    Send.objects.filter(pk=send.pk).filter(Q(converted_at__isnull=True) | Q(converted_at__gt=occurred_at)).update(
        converted_at=occurred_at
    )
    activity_record(
        contact=send.contact,
        kind=Activity.Kind.PURCHASE,
        source=source[:40],
        occurred_at=occurred_at,
        summary=f"Converted after the campaign “{send.campaign.name}”"[:300],
        data={"campaign": send.campaign_id, "send": send.pk, "value": str(value or ""), "external_id": external_id},
    )
    return conversion, True

"""Reviewer notifications: one email per reviewer with a signed, expiring link to the item.

The link only identifies the item and the addressee; signing in is still required, and
the view shows the item only to a user who may see it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from approvals.conf import app_settings
from approvals.exceptions import LinkExpired, LinkInvalid
from approvals.models import ApprovalRequest
from approvals.selectors import subject_owner_id

logger = logging.getLogger(__name__)

_SALT = "approvals.review-link"


def review_link_token(*, request_id: int, user_id: int) -> str:
    """A URL-safe token naming the request and the addressee, signed with a timestamp."""
    return signing.dumps({"r": int(request_id), "u": int(user_id)}, salt=_SALT, compress=False)


def review_link_resolve(token: str, *, max_age: int | None = None) -> tuple[int, int]:
    """``(request_id, user_id)`` from a token; ``LinkExpired`` or ``LinkInvalid`` otherwise."""
    age = app_settings.LINK_MAX_AGE_SECONDS if max_age is None else max_age
    try:
        data = signing.loads(token, salt=_SALT, max_age=age)
    except signing.SignatureExpired as exc:
        raise LinkExpired() from exc
    except signing.BadSignature as exc:
        raise LinkInvalid() from exc
    try:
        return int(data["r"]), int(data["u"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LinkInvalid() from exc


def review_link_url(*, request_id: int, user_id: int) -> str:
    """The absolute link (``HITL_CRM_SITE_URL`` + the ``approvals:from_link`` route)."""
    path = reverse("approvals:from_link", kwargs={"token": review_link_token(request_id=request_id, user_id=user_id)})
    return app_settings.SITE_URL.rstrip("/") + path


def reviewers_to_notify(*, req: ApprovalRequest, group_ids: list[int] | None = None):
    """Active users with an email who hold the review permission on ``req`` (optionally only via
    ``group_ids``), minus the requester and the subject's owner (they may not decide)."""
    User = get_user_model()
    if group_ids:
        who = Q(groups__in=group_ids)
    else:
        who = Q(groups__in=req.group_permissions.values("group_id")) | Q(pk__in=req.user_permissions.values("user_id"))
    excluded = {req.requested_by_id, subject_owner_id(req.subject) if req.subject is not None else None} - {None}
    return User.objects.filter(who, is_active=True).exclude(email="").exclude(pk__in=excluded).distinct().order_by("pk")


def approval_notify_reviewers(*, request_id: int, reason: str = "routed", group_ids: list[int] | None = None) -> int:
    """Email each reviewer of a still-pending request; return the number of messages sent."""
    req = (
        ApprovalRequest.objects.select_related("content_type")
        .filter(pk=request_id, status=ApprovalRequest.Status.PENDING)
        .first()
    )
    if req is None:
        return 0
    action = req.action_spec
    subject_label = str(req.subject) if req.subject is not None else f"{req.content_type.model} #{req.object_id}"
    messages = []
    for user in reviewers_to_notify(req=req, group_ids=group_ids):
        context = {
            "user": user,
            "req": req,
            "action": action,
            "reason": reason,
            "subject_label": subject_label,
            "confidence_pct": round((req.confidence or 0) * 100),
            "link": review_link_url(request_id=req.pk, user_id=user.pk),
            "link_days": max(1, app_settings.LINK_MAX_AGE_SECONDS // 86400),
            "company": getattr(settings, "HITL_CRM_COMPANY_NAME", "hitl-crm"),
        }
        prefix = "[Escalated] " if reason == "escalated" else "[Review] "
        subject = f"{prefix}{action.label}: {subject_label}"[:200].replace("\n", " ").replace("\r", " ")
        messages.append(
            EmailMessage(
                subject=subject,
                body=render_to_string("approvals/email/review_request.txt", context),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[user.email],
            )
        )
    if not messages:
        logger.warning("Approval request %s has no reviewer with an email address to notify", request_id)
        return 0
    return _send(req, reason, messages)


def _send(req: ApprovalRequest, reason: str, messages: list[EmailMessage]) -> int:
    """Through the delivery kernel, one delivery per reviewer and round (a retried task sends no duplicates)."""
    import hashlib

    from hitl_crm.delivery.channels import DeliveryDeferred
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import delivery_send_email

    sent = 0
    for message in messages:
        to = hashlib.sha256(message.to[0].lower().encode()).hexdigest()[:16]
        key = f"review-{req.pk}-{reason}-{req.escalation_level}-{to}"
        try:
            delivery = delivery_send_email(
                key=key, message=message, kind=Delivery.Kind.NOTIFICATION, source=f"approvals.request:{req.pk}"
            )
        except DeliveryDeferred as exc:
            raise ConnectionError(str(exc)) from exc  # the task retries with backoff
        sent += delivery.state == Delivery.State.SENT
    return sent

"""Reviewer notifications: emails with signed, expiring links to the items.

With ``HITL_CRM_APPROVALS_DIGEST_MINUTES`` (default 15) each reviewer gets at most one digest
per interval listing the items that are new to them and those overdue (the beat task
``approval_digest_task``); with 0, one email per item as soon as it is routed or escalated.
The link only identifies the item and the addressee; signing in is still required, and
the view shows the item only to a user who may see it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from approvals.conf import app_settings
from approvals.exceptions import LinkExpired, LinkInvalid
from approvals.models import (
    REVIEW_PERMISSION,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    Decision,
    ReviewerNotice,
)
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
    """Email each reviewer of a still-pending request; return the number of messages sent.

    Only in per-item mode (``DIGEST_MINUTES`` = 0): otherwise the next digest announces it.
    """
    if app_settings.DIGEST_MINUTES > 0:
        return 0
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
            "due": site_time(req.due_at),
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


# --- digests ------------------------------------------------------------------------------

DIGEST_KEY_PREFIX = "approvals-digest-"
DIGEST_MAX_LISTED = 50  # per section; the rest is counted, and the queue has them all


def site_time(moment: datetime | None) -> str:
    """``moment`` in the site's time zone (``TIME_ZONE``), named: ``2026-12-02 14:30 CET (Europe/Berlin)``.

    Explicit, whatever time zone is active where the mail is composed (a worker, a request).
    """
    if moment is None:
        return "—"
    name = str(getattr(settings, "TIME_ZONE", "UTC") or "UTC")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, name = ZoneInfo("UTC"), "UTC"
    local = timezone.localtime(moment, zone)
    abbreviation = local.tzname() or name
    named = abbreviation if abbreviation == name else f"{abbreviation} ({name})"
    return f"{local:%Y-%m-%d %H:%M} {named}"


def digest_key(*, user_id: int, now: datetime, minutes: int) -> str:
    """The delivery key of a user's digest for the interval containing ``now`` (one per user and window)."""
    window = int(now.timestamp() // (minutes * 60))
    return f"{DIGEST_KEY_PREFIX}{user_id}-{minutes}m-{window}"


@dataclass
class _Inbox:
    """What one reviewer may be told in a digest."""

    new: list[ApprovalRequest] = field(default_factory=list)
    overdue: list[ApprovalRequest] = field(default_factory=list)
    newly_overdue: list[ApprovalRequest] = field(default_factory=list)


def _reviewers_by_request(reqs: list[ApprovalRequest]) -> dict[int, set[int]]:
    """Request id → ids of the users who hold the review permission on it (directly or via a group)."""
    ids = [req.pk for req in reqs]
    out: dict[int, set[int]] = defaultdict(set)
    for request_id, user_id in ApprovalRequestUserObjectPermission.objects.filter(
        content_object_id__in=ids, permission__codename=REVIEW_PERMISSION
    ).values_list("content_object_id", "user_id"):
        out[request_id].add(user_id)
    groups: dict[int, set[int]] = defaultdict(set)
    for request_id, group_id in ApprovalRequestGroupObjectPermission.objects.filter(
        content_object_id__in=ids, permission__codename=REVIEW_PERMISSION
    ).values_list("content_object_id", "group_id"):
        groups[group_id].add(request_id)
    members = (
        get_user_model().groups.through.objects.filter(group_id__in=list(groups)).values_list("group_id", "user_id")
    )
    for group_id, user_id in members:
        for request_id in groups[group_id]:
            out[request_id].add(user_id)
    return out


def _inboxes(*, now: datetime) -> tuple[dict[int, _Inbox], dict[int, Any]]:
    """Per reviewer (active, with an email, allowed to decide): new, overdue and newly overdue items."""
    reqs = list(
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
        .select_related("content_type")
        .prefetch_related("subject")
        .order_by("due_at", "id")
    )
    if not reqs:
        return {}, {}
    reviewers = _reviewers_by_request(reqs)
    user_ids = set().union(*reviewers.values()) if reviewers else set()
    users = {
        user.pk: user
        for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email="").order_by("pk")
    }
    notices = {
        (user_id, request_id): overdue_due_at
        for user_id, request_id, overdue_due_at in ReviewerNotice.objects.filter(
            request_id__in=[req.pk for req in reqs], user_id__in=list(users)
        ).values_list("user_id", "request_id", "overdue_due_at")
    }
    # A reviewer who has decided the current version (one of several approvals) has nothing to do.
    decided = {
        (reviewer_id, request_id, payload_hash)
        for reviewer_id, request_id, payload_hash in Decision.objects.standing()
        .filter(request_id__in=[req.pk for req in reqs], reviewer_id__in=list(users))
        .values_list("reviewer_id", "request_id", "payload_hash")
    }
    inboxes: dict[int, _Inbox] = defaultdict(_Inbox)
    for req in reqs:
        # The requester and the subject's owner may not decide: they are not told either.
        excluded = {req.requested_by_id, subject_owner_id(req.subject) if req.subject is not None else None}
        overdue = req.due_at < now
        for user_id in sorted(reviewers.get(req.pk, ())):
            if user_id not in users or user_id in excluded or (user_id, req.pk, req.payload_hash) in decided:
                continue
            inbox = inboxes[user_id]
            known = (user_id, req.pk) in notices
            if overdue:
                inbox.overdue.append(req)
                if not known or notices[(user_id, req.pk)] != req.due_at:
                    inbox.newly_overdue.append(req)
            elif not known:
                inbox.new.append(req)
    return dict(inboxes), users


def _digest_item(req: ApprovalRequest, *, user_id: int, now: datetime) -> dict[str, Any]:
    action = req.action_spec
    about = str(req.subject) if req.subject is not None else f"{req.content_type.model} #{req.object_id} (removed)"
    return {
        "about": about.replace("\n", " ").replace("\r", " "),
        "action": action.label,
        "risk": req.get_risk_display(),
        "due": site_time(req.due_at),
        "overdue": req.due_at < now,
        "escalated": req.escalation_level > 0,
        "required_approvals": req.required_approvals,
        "link": review_link_url(request_id=req.pk, user_id=user_id),
    }


def _digest_message(user: Any, inbox: _Inbox, *, now: datetime) -> EmailMessage:
    overdue_ids = {req.pk for req in inbox.overdue}
    new = [req for req in inbox.new if req.pk not in overdue_ids]
    context = {
        "user": user,
        "new": [_digest_item(req, user_id=user.pk, now=now) for req in new[:DIGEST_MAX_LISTED]],
        "new_more": max(0, len(new) - DIGEST_MAX_LISTED),
        "overdue": [_digest_item(req, user_id=user.pk, now=now) for req in inbox.overdue[:DIGEST_MAX_LISTED]],
        "overdue_more": max(0, len(inbox.overdue) - DIGEST_MAX_LISTED),
        "now": site_time(now),
        "queue_url": app_settings.SITE_URL.rstrip("/") + reverse("approvals:queue"),
        "link_days": max(1, app_settings.LINK_MAX_AGE_SECONDS // 86400),
        "company": getattr(settings, "HITL_CRM_COMPANY_NAME", "hitl-crm"),
    }
    parts = []
    if new:
        parts.append(f"{len(new)} new")
    if inbox.overdue:
        parts.append(f"{len(inbox.overdue)} overdue")
    return EmailMessage(
        subject=f"[Review] {' and '.join(parts)} waiting for you",
        body=render_to_string("approvals/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )


def _finish_prepared_digests() -> int:
    """Send digests a worker prepared (committed) but died before sending; the kernel sends each once."""
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import delivery_send

    sent = 0
    for delivery_id in Delivery.objects.filter(
        key__startswith=DIGEST_KEY_PREFIX, state=Delivery.State.PREPARED
    ).values_list("pk", flat=True):
        sent += delivery_send(delivery_id=delivery_id).state == Delivery.State.SENT
    return sent


def _digest_sent_since(*, user_id: int, since: datetime) -> bool:
    """Whether a digest to this user was prepared after ``since`` (whatever became of it)."""
    from hitl_crm.delivery.models import Delivery

    return Delivery.objects.filter(key__startswith=f"{DIGEST_KEY_PREFIX}{user_id}-", created_at__gt=since).exists()


def _digest_one(user: Any, inbox: _Inbox, *, key: str, now: datetime, minutes: int) -> int:
    """Prepare (with the notices, in one transaction) and send one reviewer's digest; 1 if it went out.

    At most one digest per reviewer per ``minutes`` (counted from the last one, not by the
    clock): the reviewer's user row is locked while this is checked and the digest prepared,
    so two runs at once prepare one. The mail goes out after commit, with no lock held.
    """
    from hitl_crm.delivery.channels import email_content
    from hitl_crm.delivery.models import Delivery
    from hitl_crm.delivery.services import Outbound, delivery_prepare, delivery_send

    if not inbox.new and not inbox.newly_overdue:
        return 0  # nothing they have not heard of: no mail
    since = now - timedelta(minutes=minutes)
    if _digest_sent_since(user_id=user.pk, since=since):
        return 0  # they had one this interval; what is new waits for the next
    message = _digest_message(user, inbox, now=now)
    try:
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
            if _digest_sent_since(user_id=user.pk, since=since):
                return 0  # another run prepared it while we were composing ours
            told = {req.pk: req for req in [*inbox.new, *inbox.overdue]}
            existing = set(
                ReviewerNotice.objects.filter(user_id=user.pk, request_id__in=list(told)).values_list(
                    "request_id", flat=True
                )
            )
            ReviewerNotice.objects.bulk_create(
                [
                    ReviewerNotice(
                        user_id=user.pk,
                        request_id=pk,
                        digest_key=key,
                        announced_at=now,
                        overdue_due_at=req.due_at if req.due_at < now else None,
                    )
                    for pk, req in told.items()
                    if pk not in existing
                ]
            )
            for req in inbox.overdue:
                if req.pk in existing:
                    ReviewerNotice.objects.filter(user_id=user.pk, request_id=req.pk).update(
                        digest_key=key, overdue_due_at=req.due_at
                    )
            delivery = delivery_prepare(
                key=key,
                outbound=Outbound(
                    channel=Delivery.Channel.EMAIL,
                    kind=Delivery.Kind.NOTIFICATION,
                    content=email_content(message),
                    recipient=user.email[:254],
                    summary=message.subject[:300],
                ),
                source=f"approvals.digest:{user.pk}",
            )
    except IntegrityError:
        logger.info("Digest %s is being prepared by another worker", key)
        return 0
    return int(delivery_send(delivery_id=delivery.pk).state == Delivery.State.SENT)


def approval_send_digests(*, now: datetime | None = None) -> int:
    """The beat entry point (a system task, no actor): one digest per reviewer and interval.

    A reviewer is mailed when something is new to them (never announced before) or newly
    overdue; the digest lists those new items and every item of theirs that is overdue, each
    with its own signed link. Nothing is sent to a reviewer with nothing new or newly overdue,
    and nothing at all in per-item mode (``DIGEST_MINUTES`` = 0). Returns the digests sent.
    """
    from hitl_crm.delivery.channels import DeliveryDeferred

    minutes = app_settings.DIGEST_MINUTES
    if minutes <= 0:
        return 0
    now = now or timezone.now()
    sent = 0
    deferred = 0
    try:
        sent += _finish_prepared_digests()
    except DeliveryDeferred as exc:
        logger.warning("Unsent digests wait for the mail server: %s", exc)
        deferred += 1
    inboxes, users = _inboxes(now=now)
    for user_id, inbox in inboxes.items():
        try:
            sent += _digest_one(
                users[user_id],
                inbox,
                key=digest_key(user_id=user_id, now=now, minutes=minutes),
                now=now,
                minutes=minutes,
            )
        except DeliveryDeferred as exc:  # certainly not sent; stays prepared and goes out on the next run
            logger.warning("Digest for user %s deferred: %s", user_id, exc)
            deferred += 1
    if deferred:
        logger.warning("%s reviewer digest(s) deferred; the next run sends them", deferred)
    return sent

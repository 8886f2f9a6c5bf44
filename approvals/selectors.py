"""Reads for approvals. Every selector that takes a ``user`` returns only what they may see.

Object permissions live in the direct-FK tables; filters are subqueries on them (never
lists of ids), so a queue over 100,000 requests stays one indexed query.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from approvals.models import (
    REVIEW_PERMISSION,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    AuditEvent,
    Decision,
    PayloadVersion,
)
from hitl_crm.counters import cached_count
from hitl_crm.money import Money, MoneyError
from hitl_crm.paging import SortKey

Status = ApprovalRequest.Status


def _is_signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def _review_permission_ids() -> QuerySet:
    return Permission.objects.filter(codename=REVIEW_PERMISSION, content_type__app_label="approvals").values("pk")


def _reviewable(user: User) -> Exists:
    """Rows on which ``user`` (directly or through a group) holds the review permission.

    One correlated ``EXISTS (… UNION ALL …)``: PostgreSQL probes the permission tables'
    ``content_object`` index for each candidate row, so a page of the queue costs a few
    dozen index lookups however many requests the user's groups may review. (Two ``IN``
    subqueries or two ORed ``EXISTS`` let the planner hash every permission row of the
    user's groups first: ~40 ms per page at 100,000 requests instead of ~1 ms.)
    """
    groups = get_user_model().groups.through.objects.filter(user_id=user.pk).values("group_id")
    # The permission's id as a scalar subquery, not a join on auth_permission: PostgreSQL reads it
    # once per query (an InitPlan) instead of scanning auth_permission for every candidate row
    # (~1 ms of a queue page at 100,000 requests).
    permission = _review_permission_id()
    via_group = ApprovalRequestGroupObjectPermission.objects.filter(
        content_object=OuterRef("pk"), group_id__in=groups, permission_id=permission
    ).values("pk")
    direct = ApprovalRequestUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user_id=user.pk, permission_id=permission
    ).values("pk")
    return Exists(via_group.union(direct, all=True))


def _review_permission_id() -> Subquery:
    """The review permission's id, as a subquery (there is one: ``approvals.review_approvalrequest``)."""
    return Subquery(_review_permission_ids().order_by()[:1])


def _reviewable_in(user: User) -> Q:
    """The same set as ``_reviewable`` as two hashed ``IN`` subqueries: faster for exact counts."""
    permission = _review_permission_ids()
    groups = get_user_model().groups.through.objects.filter(user_id=user.pk).values("group_id")
    direct = ApprovalRequestUserObjectPermission.objects.filter(user_id=user.pk, permission_id__in=permission).values(
        "content_object_id"
    )
    via_group = ApprovalRequestGroupObjectPermission.objects.filter(
        group_id__in=groups, permission_id__in=permission
    ).values("content_object_id")
    return Q(pk__in=direct) | Q(pk__in=via_group)


def _approvals_count_subquery() -> Coalesce:
    return Coalesce(
        Subquery(
            Decision.objects.filter(
                request=OuterRef("pk"),
                verdict__in=Decision.APPROVING,
                payload_hash=OuterRef("payload_hash"),
                undone_at__isnull=True,
            )
            .order_by()
            .values("request")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def approval_visible_to(*, user: User) -> QuerySet[ApprovalRequest]:
    """Requests of any status on which the user holds the review permission (superusers: all)."""
    if not _is_signed_in(user):
        return ApprovalRequest.objects.none()
    qs = ApprovalRequest.objects.select_related("policy", "requested_by", "ai_run", "content_type")
    if not user.is_superuser:
        qs = qs.filter(_reviewable(user))
    return qs.annotate(_approvals_count=_approvals_count_subquery())


OVERDUE_REFRESH_KEY = "approvals:overdue-refreshed"
OVERDUE_REFRESH_SECONDS = 60


def _refresh_overdue_now_and_then() -> None:
    """:func:`approvals.services.refresh_overdue`, at most once a minute for everyone sharing the cache.

    Beat runs it every minute; this keeps the order right where no beat runs (the demo).
    """
    if cache.add(OVERDUE_REFRESH_KEY, 1, OVERDUE_REFRESH_SECONDS):
        from approvals.services import refresh_overdue

        refresh_overdue()


def approval_queue_for(*, user: User) -> QuerySet[ApprovalRequest]:
    """Pending requests the user may review, oldest first, excluding those they requested themselves.

    Rows carry ``policy``, ``requested_by``, ``ai_run``, ``content_type`` and the subject
    (prefetched per content type), plus the approvals count.
    """
    if not _is_signed_in(user):
        return ApprovalRequest.objects.none()
    qs = ApprovalRequest.objects.filter(status=Status.PENDING).exclude(requested_by=user)
    if not user.is_superuser:
        qs = qs.filter(_reviewable(user))
    return (
        qs.select_related("policy", "requested_by", "ai_run", "content_type")
        .prefetch_related("subject")
        .annotate(_approvals_count=_approvals_count_subquery())
        .order_by("id")
    )


QUEUE_ORDERS = ("priority", "due", "risk", "newest")


def approval_queue_keys(*, order: str = "priority") -> list[SortKey]:
    """The sort keys of a queue order, most significant first; every order ends on ``id``.

    ``priority`` (the default): overdue first (the stored ``overdue_rank``), then risk
    (``risk_rank``: critical → low), then due time; ``risk``: risk, then due time; ``due``:
    due time; ``newest``: creation time, newest first. All are stored columns: ``priority``,
    ``risk`` and ``due`` walk partial indexes on pending rows, so page 40 costs what page 1 does.

    ``overdue_rank`` may lag the clock by up to a minute: a request whose due time passes moves
    to the overdue part when :func:`approvals.services.refresh_overdue` next runs — beat runs it
    every minute, and asking for the ``priority`` keys runs it too, at most once a minute for
    everyone sharing the cache (so the order holds where no beat runs, as in the demo).
    """
    if order not in QUEUE_ORDERS or order == "priority":
        _refresh_overdue_now_and_then()
    due = SortKey("due_at", F("due_at"), kind="datetime")
    pk = SortKey("id", F("id"))
    risk = SortKey("risk_rank", F("risk_rank"))
    if order == "due":
        return [due, pk]
    if order == "risk":
        return [risk, due, pk]
    if order == "newest":
        return [
            SortKey("created_at", F("created_at"), descending=True, kind="datetime"),
            SortKey("id", F("id"), descending=True),
        ]
    return [SortKey("overdue_rank", F("overdue_rank")), risk, due, pk]


def approval_queue_order(*, order: str = "priority") -> list[Any]:
    """``order_by`` terms for the review queue (see :func:`approval_queue_keys`); pages are stable."""
    return [key.order_by() for key in approval_queue_keys(order=order)]


def approval_queue_bound(*, order: str, values: list[Any], backwards: bool = False) -> Any:
    """A row comparison ``(k1, k2, …) > (v1, v2, …)`` past a cursor's values, in queue order.

    The same rows as the keyset condition of :func:`hitl_crm.paging.keyset_page` (which it
    makes redundant), but in a form PostgreSQL turns into an index condition: the scan starts
    at the cursor instead of reading every row before it. Backwards: the rows before it.
    """
    keys = approval_queue_keys(order=order)
    later = keys[0].descending == backwards  # ascending forwards (or descending backwards): greater
    lookup = TupleGreaterThan if later else TupleLessThan
    return lookup(Tuple(*(key.expression for key in keys)), list(values))


def approval_queue_complete(rows: list[ApprovalRequest]) -> list[ApprovalRequest]:
    """Give a page of queue rows read without :func:`approval_queue_for`'s extras their subjects
    (one query per kind) and approvals counts (one query), so showing them costs no more queries."""
    if not rows:
        return rows
    prefetch_related_objects(rows, "subject")
    counts = dict(
        ApprovalRequest.objects.filter(pk__in=[row.pk for row in rows])
        .annotate(n=_approvals_count_subquery())
        .values_list("pk", "n")
    )
    for row in rows:
        row._approvals_count = counts.get(row.pk, 0)  # type: ignore[attr-defined]
    return rows


def approval_next_in_queue(*, user: User, after_id: int, order: str = "priority") -> int | None:
    """The id of the first item of the user's queue (in ``order``) other than ``after_id``, or None."""
    if order not in QUEUE_ORDERS:
        order = "priority"
    return (
        approval_queue_for(user=user)
        .exclude(pk=after_id)
        .order_by(*approval_queue_order(order=order))
        .values_list("pk", flat=True)
        .first()
    )


PENDING_COUNT_CAP = 100


def approval_pending_count(*, user: User, cap: int | None = PENDING_COUNT_CAP) -> int:
    """How many requests wait for this user, up to ``cap`` (the nav badge: show "99+" at the cap).

    Counting stops at ``cap`` so the badge stays cheap on a queue of 100,000; ``cap=None``
    counts exactly (one hashed scan of the user's permission rows, ~100 ms at that size).
    The badge polls this: a capped count is a kernel counter per user, so it may be up to
    ``HITL_CRM_COUNTER_SECONDS`` stale, except after the user's own decision (the decision
    service forgets it on commit).
    """
    if not _is_signed_in(user):
        return 0
    if cap is None:
        return _pending_count(user, None)
    return cached_count(pending_count_name(cap), lambda: _pending_count(user, cap), user_id=user.pk)


def pending_count_name(cap: int = PENDING_COUNT_CAP) -> str:
    """The kernel counter name of a user's capped pending count (for :func:`hitl_crm.counters.forget`)."""
    return f"approvals.pending:{cap}"


def _pending_count(user: User, cap: int | None) -> int:
    qs = ApprovalRequest.objects.filter(status=Status.PENDING).exclude(requested_by=user)
    if cap is None:
        return (qs if user.is_superuser else qs.filter(_reviewable_in(user))).count()
    if not user.is_superuser:
        qs = qs.filter(_reviewable(user))
    return qs.order_by()[:cap].count()


def user_may_review(*, user: User, request_id: int) -> bool:
    """Whether the user holds the review permission on this request (any status)."""
    if not _is_signed_in(user):
        return False
    if user.is_superuser:
        return True
    return ApprovalRequest.objects.filter(pk=request_id).filter(_reviewable(user)).exists()


def subject_owner_id(subject: Any) -> int | None:
    """The subject's owner: ``approval_owner_id()`` when defined, else its ``owner_id``."""
    custom = getattr(subject, "approval_owner_id", None)
    if callable(custom):
        return custom()
    return getattr(subject, "owner_id", None)


def decide_blocker(*, request: ApprovalRequest, user: User) -> tuple[str, str] | None:
    """Why ``user`` may not decide ``request`` now: ``(code, message)``, or None if they may.

    Codes: ``no_permission``, ``not_pending``, ``own_request``, ``own_subject``,
    ``already_decided``. The services raise on the same answers.
    """
    if not _is_signed_in(user) or not user_may_review(user=user, request_id=request.pk):
        return "no_permission", "You are not a reviewer of this request."
    if request.status != Status.PENDING:
        return "not_pending", f"This request is {request.get_status_display().lower()}; it can no longer be decided."
    if request.requested_by_id is not None and request.requested_by_id == user.pk:
        return "own_request", "You asked for this; another reviewer must decide it."
    subject = request.subject
    if subject is not None and subject_owner_id(subject) == user.pk:
        return "own_subject", f"You own {subject}; another reviewer must decide this."
    if request.decisions.standing().filter(reviewer=user, payload_hash=request.payload_hash).exists():
        return "already_decided", "You have already decided on this request."
    return None


def can_decide(*, request: ApprovalRequest, user: User) -> tuple[bool, str]:
    """``(True, "")`` or ``(False, reason)`` — for the UI to disable the decision buttons."""
    blocker = decide_blocker(request=request, user=user)
    return (True, "") if blocker is None else (False, blocker[1])


def approval_undoable_for(*, user: User, limit: int = 20) -> list[ApprovalRequest]:
    """Requests ``user`` approved that are still in their undo window (soonest first), for the Undo bar."""
    if not _is_signed_in(user):
        return []
    standing = Decision.objects.filter(
        request=OuterRef("pk"),
        reviewer=user,
        verdict__in=Decision.APPROVING,
        payload_hash=OuterRef("payload_hash"),
        undone_at__isnull=True,
    )
    qs = ApprovalRequest.objects.filter(status=Status.APPROVED, execute_after__gt=timezone.now())
    return list(qs.filter(Exists(standing)).select_related("content_type").order_by("execute_after", "id")[:limit])


def approval_history(*, request: ApprovalRequest) -> dict[str, QuerySet]:
    """Decisions (oldest first), payload versions and the audit trail of one request."""
    return {
        "decisions": request.decisions.select_related("reviewer").order_by("created_at", "id"),
        "versions": PayloadVersion.objects.filter(request=request).select_related("author").order_by("number"),
        "audit": AuditEvent.objects.filter(request=request).select_related("actor").order_by("id"),
    }


def approval_money(*, request: ApprovalRequest) -> Money | None:
    """The amount the request would move (its action's amount field), or None without one."""
    from approvals.policies import to_decimal

    spec = request.action_spec
    payload = request.final or {}
    amount_field = getattr(spec, "amount_field", None)
    if not amount_field:
        return None
    amount = to_decimal(payload.get(amount_field))
    if amount is None:
        return None
    currency_field = getattr(spec, "currency_field", None)
    raw = payload.get(currency_field) if currency_field else (request.context or {}).get("currency")
    currency = raw or (request.policy.currency if request.policy is not None else "USD")
    try:
        return Money(amount, currency)
    except MoneyError:
        return None


def approval_authority_gap(*, request: ApprovalRequest, user: User) -> str:
    """Why ``user`` may not approve the request's amount ("Your limit is …; this refund is …"), or "".

    The same rule the decision service applies, answered before the reviewer clicks.
    """
    from approvals.policies import NoExchangeRate, authority_of, within_authority

    money = approval_money(request=request)
    if money is None:
        return ""
    limited, limits = authority_of(policy=request.policy, user=user)
    if not limited:
        return ""
    # "Issue refund" → "this refund": the noun the reviewer thinks in.
    words = [w for w in request.action_spec.label.split() if w.isalpha()]
    what = (words or ["request"])[-1].lower()
    if not limits:
        return f"Your groups may not approve amounts under “{request.policy}”; this {what} is {money}."
    try:
        allowed, limit = within_authority(money, limits)
    except NoExchangeRate as exc:
        return str(exc)
    return "" if allowed else f"Your limit is {limit}; this {what} is {money}."


# --- feedback analytics ------------------------------------------------------------------

BY_CHOICES = ("action", "policy", "reviewer", "model")


def _decision_key(row: Mapping[str, Any], by: str) -> str:
    if by == "action":
        return row["request__action"]
    if by == "policy":
        return row["request__policy__name"] or "(no policy)"
    if by == "reviewer":
        return "autopilot" if row["is_autopilot"] else (row["reviewer__username"] or "?")
    model = row["request__ai_run__model_name"]
    if not model and not row["request__ai_run__backend"]:
        return "(no AI run)"
    version = row["request__ai_run__prompt_version"]
    label = model or row["request__ai_run__backend"]
    return f"{label} / {version}" if version else label


def _request_key_fields(by: str) -> list[str]:
    return {
        "action": ["action"],
        "policy": ["policy__name"],
        "reviewer": [],
        "model": ["ai_run__model_name", "ai_run__backend", "ai_run__prompt_version"],
    }[by]


def _request_key(row: dict[str, Any], by: str) -> str:
    prefixed = {f"request__{k}": v for k, v in row.items()}
    prefixed.setdefault("is_autopilot", False)
    prefixed.setdefault("reviewer__username", None)
    return _decision_key(prefixed, by)


def _stats_label(key: str, by: str) -> str:
    """What people read for a group key: the action's label ("Send reply to customer"), else the key."""
    if by != "action":
        return key
    from approvals.exceptions import UnknownAction
    from approvals.registry import get_action, placeholder_action

    try:
        return get_action(key).label
    except UnknownAction:
        return placeholder_action(key).label


def approval_stats(*, since: datetime | None = None, by: str = "action") -> list[dict[str, Any]]:
    """Feedback per action, policy, reviewer or AI model/prompt version.

    Counts human decisions made since ``since`` (default: 30 days): ``decided``,
    ``accepted`` (approved without edits), ``acceptance``, ``edit_ratio_avg`` (over
    approvals), ``rejected`` (rejections and change requests), ``reasons``,
    ``median_minutes_to_decision``, ``sla_breaches`` (decisions after the original due
    time), ``autopilot`` (auto-approvals, not in the acceptance) and ``backlog`` (pending
    now; None per reviewer).
    """
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {', '.join(BY_CHOICES)}")
    since = since or timezone.now() - timedelta(days=30)
    rows = (
        Decision.objects.filter(created_at__gte=since)
        .values(
            "verdict",
            "edit_ratio",
            "reason",
            "is_autopilot",
            "created_at",
            "reviewer__username",
            "request__action",
            "request__policy__name",
            "request__ai_run__model_name",
            "request__ai_run__backend",
            "request__ai_run__prompt_version",
            "request__created_at",
            "request__sla_due_at",
        )
        .order_by()
    )
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "decided": 0,
            "accepted": 0,
            "rejected": 0,
            "autopilot": 0,
            "edit_ratios": [],
            "reasons": Counter(),
            "minutes": [],
            "sla_breaches": 0,
        }
    )
    for row in rows.iterator(chunk_size=2000):
        g = groups[_decision_key(row, by)]
        if row["is_autopilot"]:
            g["autopilot"] += 1
            continue
        g["decided"] += 1
        verdict = row["verdict"]
        if verdict == Decision.Verdict.APPROVE:
            g["accepted"] += 1
        if verdict in Decision.APPROVING:
            g["edit_ratios"].append(row["edit_ratio"])
        else:
            g["rejected"] += 1
            if row["reason"]:
                g["reasons"][row["reason"]] += 1
        g["minutes"].append((row["created_at"] - row["request__created_at"]).total_seconds() / 60)
        if row["created_at"] > row["request__sla_due_at"]:
            g["sla_breaches"] += 1
    backlog: dict[str, int] = defaultdict(int)
    fields = _request_key_fields(by)
    if fields:
        pending = ApprovalRequest.objects.filter(status=Status.PENDING).values(*fields).annotate(n=Count("id"))
        for row in pending.order_by():
            n = row.pop("n")
            backlog[_request_key(row, by)] += n
    out = []
    for key in sorted(set(groups) | set(backlog)):
        g = groups[key]
        out.append(
            {
                "key": key,
                "label": _stats_label(key, by),
                "decided": g["decided"],
                "accepted": g["accepted"],
                "acceptance": round(g["accepted"] / g["decided"], 4) if g["decided"] else None,
                "edit_ratio_avg": round(statistics.fmean(g["edit_ratios"]), 4) if g["edit_ratios"] else None,
                "rejected": g["rejected"],
                "reasons": dict(g["reasons"].most_common()),
                "median_minutes_to_decision": round(statistics.median(g["minutes"]), 1) if g["minutes"] else None,
                "sla_breaches": g["sla_breaches"],
                "autopilot": g["autopilot"],
                "backlog": backlog.get(key, 0) if fields else None,
            }
        )
    return out


def _per_day(qs: QuerySet, field: str) -> dict[date, int]:
    return {
        row["day"]: row["n"]
        for row in qs.annotate(day=TruncDate(field)).values("day").annotate(n=Count("id")).order_by()
    }


def approval_daily_series(*, days: int = 30, action: str | None = None) -> list[dict[str, Any]]:
    """One row per day (oldest first, zero-filled): decided, accepted, acceptance,
    edit_ratio_avg, backlog_end_of_day and sla_breaches (requests whose original due
    time fell that day and that were still pending then). Days are in the current time zone.
    """
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    start_dt = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    requests = ApprovalRequest.objects.all()
    decisions = Decision.objects.filter(is_autopilot=False, created_at__gte=start_dt)
    if action:
        requests = requests.filter(action=action)
        decisions = decisions.filter(request__action=action)
    decided = _per_day(decisions, "created_at")
    accepted = _per_day(decisions.filter(verdict=Decision.Verdict.APPROVE), "created_at")
    ratios = {
        row["day"]: row["avg"]
        for row in decisions.filter(verdict__in=Decision.APPROVING)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(avg=Avg("edit_ratio"))
        .order_by()
    }
    created = _per_day(requests.filter(created_at__gte=start_dt), "created_at")
    closed = _per_day(requests.filter(decided_at__gte=start_dt), "decided_at")
    backlog = (
        requests.filter(created_at__lt=start_dt)
        .filter(Q(decided_at__isnull=True) | Q(decided_at__gte=start_dt))
        .count()
    )
    now = timezone.now()
    breached = _per_day(
        requests.filter(sla_due_at__gte=start_dt, sla_due_at__lt=now).filter(
            Q(decided_at__isnull=True) | Q(decided_at__gt=F("sla_due_at"))
        ),
        "sla_due_at",
    )
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        backlog += created.get(day, 0) - closed.get(day, 0)
        n, k = decided.get(day, 0), accepted.get(day, 0)
        ratio = ratios.get(day)
        out.append(
            {
                "date": day.isoformat(),
                "decided": n,
                "accepted": k,
                "acceptance": round(k / n, 4) if n else None,
                "edit_ratio_avg": round(ratio, 4) if ratio is not None else None,
                "backlog_end_of_day": backlog,
                "sla_breaches": breached.get(day, 0),
            }
        )
    return out


def approval_open_for_subject(*, action: str, subject: Any) -> ApprovalRequest | None:
    """The open (pending, approved or executing) request for this action and subject, if any."""
    from django.contrib.contenttypes.models import ContentType

    return (
        ApprovalRequest.objects.filter(
            action=action,
            content_type=ContentType.objects.get_for_model(subject),
            object_id=str(subject.pk),
            status__in=ApprovalRequest.OPEN_STATUSES,
        )
        .order_by("-id")
        .first()
    )


def approval_feedback_for_subject(*, subject: Any, limit: int = 5) -> list[dict[str, Any]]:
    """Reviewers' change requests on the approval requests about ``subject``, newest first.

    Each item: ``request`` (id), ``action``, ``reviewer`` (display name), ``comment``,
    ``created_at``, ``version`` (the version they asked to change), ``current_version``,
    ``status`` of the request and ``redrafted`` (a newer version exists). For the subject's
    page: the person who owns it sees what the reviewer asked for.
    """
    from django.contrib.contenttypes.models import ContentType

    if subject is None or getattr(subject, "pk", None) is None:
        return []
    rows = (
        Decision.objects.filter(
            verdict=Decision.Verdict.REQUEST_CHANGES,
            request__content_type=ContentType.objects.get_for_model(subject),
            request__object_id=str(subject.pk),
        )
        .select_related("reviewer", "request")
        .order_by("-created_at", "-id")[:limit]
    )
    out = []
    for d in rows:
        who = d.reviewer.get_full_name() or d.reviewer.get_username() if d.reviewer else "autopilot"
        out.append(
            {
                "request": d.request_id,
                "action": d.request.action,
                "reviewer": who,
                "comment": d.comment,
                "created_at": d.created_at,
                "version": d.version,
                "current_version": d.request.version,
                "status": d.request.status,
                "redrafted": d.request.version > d.version,
            }
        )
    return out


__all__ = [
    "approval_authority_gap",
    "approval_daily_series",
    "approval_money",
    "approval_feedback_for_subject",
    "approval_history",
    "approval_open_for_subject",
    "approval_next_in_queue",
    "approval_pending_count",
    "approval_queue_bound",
    "approval_queue_complete",
    "approval_queue_for",
    "approval_queue_keys",
    "approval_queue_order",
    "approval_stats",
    "approval_visible_to",
    "PENDING_COUNT_CAP",
    "can_decide",
    "decide_blocker",
    "user_may_review",
]

"""The review UI: queue, detail with the inline editor and decision buttons, analytics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from approvals.conf import app_settings
from approvals.exceptions import ApprovalError, InvalidInput, LinkExpired, LinkInvalid, PayloadConflict
from approvals.forms import BulkDecisionForm, DecisionForm, QueueFilterForm
from approvals.models import ApprovalRequest, Decision
from approvals.notifications import review_link_resolve
from approvals.registry import all_actions
from approvals.selectors import (
    PENDING_COUNT_CAP,
    QUEUE_ORDERS,
    approval_authority_gap,
    approval_daily_series,
    approval_history,
    approval_next_in_queue,
    approval_pending_count,
    approval_queue_bound,
    approval_queue_complete,
    approval_queue_for,
    approval_queue_keys,
    approval_stats,
    approval_undoable_for,
    approval_visible_to,
    can_decide,
)
from approvals.services import (
    approval_bulk_blocker,
    approval_decide,
    approval_decide_bulk,
    approval_escalate_now,
    approval_requeue,
    approval_undo,
    approval_undo_blocker,
)
from hitl_crm.paging import cursor_decode, cursor_encode, keyset_page
from hitl_crm.types import AuthenticatedHtmxHttpRequest

QUEUE_PER_PAGE = 25


def _filtered_queue(request: AuthenticatedHtmxHttpRequest) -> tuple[QuerySet[ApprovalRequest], QueueFilterForm]:
    form = QueueFilterForm(request.GET or None, actions=all_actions())
    qs = approval_queue_for(user=request.user)
    if form.is_valid():
        now = timezone.now()
        if action := form.cleaned_data["action"]:
            qs = qs.filter(action=action)
        if risk := form.cleaned_data["risk"]:
            qs = qs.filter(risk=risk)
        age = form.cleaned_data["age"]
        if age == "1h":
            qs = qs.filter(created_at__lte=now - timedelta(hours=1))
        elif age == "1d":
            qs = qs.filter(created_at__lte=now - timedelta(days=1))
        elif age == "overdue":
            qs = qs.filter(due_at__lt=now)
        state = form.cleaned_data["state"]
        if state == "overdue":
            qs = qs.filter(due_at__lt=now)
        elif state == "escalated":
            qs = qs.filter(escalation_level__gt=0)
    return qs, form


@dataclass
class QueuePage:
    """One page of the queue, reached through keyset cursors: no COUNT and no OFFSET.

    A COUNT over 100,000 rows costs ~1 s and ``OFFSET`` grows with the page number; a cursor
    names the row a page starts after (``after``) or ends before (``before``), so page 40 costs
    what page 1 does, and an item decided meanwhile shifts nothing. The page number travels in
    the cursor's stamp, for "page N" only.
    """

    object_list: list[ApprovalRequest]
    number: int
    next_cursor: str = ""
    previous_cursor: str = ""

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_cursor)


def _cursor_page_number(stamp: str) -> int:
    try:
        return max(1, min(int(stamp), 1_000_000))
    except ValueError:
        return 1


def _page(qs: QuerySet[ApprovalRequest], query: QueryDict, *, order: str) -> QueuePage:
    """The page after the ``after`` cursor, before the ``before`` cursor, or the first page.

    A cursor that is not one (edited, or made for another order) gives the first page.
    """
    keys = approval_queue_keys(order=order)
    after, before = cursor_decode(query.get("after", "")), cursor_decode(query.get("before", ""))
    cursor, backwards = (after, False) if after else (before, True) if before else (None, False)
    number, bounded = 1, qs
    if cursor is not None and len(cursor[1]) == len(keys):
        try:
            values = [key.load(raw) for key, raw in zip(keys, cursor[1], strict=True)]
        except ValueError:
            cursor = None
        else:
            seen = _cursor_page_number(cursor[0])  # the page the cursor was made on
            number = max(1, seen - 1) if backwards else seen + 1
            bounded = qs.filter(approval_queue_bound(order=order, values=values, backwards=backwards))
    else:
        cursor = None
    page = keyset_page(
        bounded,
        keys,
        per_page=QUEUE_PER_PAGE,
        stamp=str(number),
        after=cursor[1] if cursor and not backwards else None,
        before=cursor[1] if cursor and backwards else None,
        count_cap=0,  # "N waiting" is the (cached) pending count, not a count of this walk
    )
    if cursor is not None and not page.object_list:
        # Everything beyond the cursor was decided meanwhile: start again.
        number = 1
        page = keyset_page(qs, keys, per_page=QUEUE_PER_PAGE, stamp="1", count_cap=0)
    elif cursor is not None and backwards and not page.has_previous:
        # Back at the start: what is left before the cursor is page 1 (fewer rows if some were
        # decided meanwhile, rather than repeating rows of the page the reviewer came from).
        number = 1
        last = page.object_list[-1]
        page.next_cursor = cursor_encode("1", [getattr(last, key.name) for key in keys])
    rows = approval_queue_complete(page.object_list)
    return QueuePage(rows, number, next_cursor=page.next_cursor, previous_cursor=page.previous_cursor)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def queue(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    qs, form = _filtered_queue(request)
    page = _page(qs, request.GET, order=form.chosen_order())
    bulk_ids = {row.pk for row in page.object_list if not approval_bulk_blocker(req=row)}  # rows with a checkbox
    query = request.GET.copy()
    for name in ("page", "after", "before"):
        query.pop(name, None)
    waiting = approval_pending_count(user=request.user)
    unordered = query.copy()
    unordered.pop("order", None)
    unordered.pop("sort", None)
    context = {
        "page": page,
        "form": form,
        "order": form.chosen_order(),
        "unordered": unordered.urlencode(),
        "now": timezone.now(),
        "query": query.urlencode(),
        "waiting": f"{PENDING_COUNT_CAP}+" if waiting >= PENDING_COUNT_CAP else str(waiting),
        "bulk_form": BulkDecisionForm(initial={"back": request.GET.urlencode()}),
        "bulk_ids": bulk_ids,
        "undoable": _undo_items(request, now=timezone.now()),
    }
    # A history restore (Back/Forward with no cached snapshot) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "approvals/queue.html#results" if partial else "approvals/queue.html"
    return render(request, template, context)


@require_GET
@login_required
def badge(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """The live count in the navigation (polled by HTMX)."""
    count = approval_pending_count(user=request.user)
    if count >= PENDING_COUNT_CAP:
        return HttpResponse(f"{PENDING_COUNT_CAP - 1}+")
    return HttpResponse(str(count) if count else "")


def _queue_order(raw: str | None) -> str:
    return raw if raw in QUEUE_ORDERS else "priority"


def _detail_context(
    request: AuthenticatedHtmxHttpRequest, req: ApprovalRequest, form: DecisionForm | None = None
) -> dict:
    allowed, why_not = can_decide(request=req, user=request.user)
    history = approval_history(request=req)
    order = _queue_order(request.GET.get("order") or request.POST.get("order"))
    authority_gap = approval_authority_gap(request=req, user=request.user) if allowed else ""
    now = timezone.now()
    undo_blocker = approval_undo_blocker(req=req, actor=request.user, now=now)
    return {
        "req": req,
        "order": order,
        "authority_gap": authority_gap,
        "spec": req.action_spec,
        "payload": req.final,
        "form": form or (DecisionForm(req=req, initial={"order": order}) if allowed else None),
        "can_decide": allowed,
        "why_not": why_not,
        "decisions": history["decisions"],
        "versions": history["versions"],
        "audit": history["audit"],
        "now": now,
        "can_undo": undo_blocker is None,
        "undo_seconds": _seconds_left(req, now),
        "undoable": _undo_items(request, now=now, exclude=req.pk),
        "can_requeue": req.status == ApprovalRequest.Status.FAILED
        and request.user.has_perm("approvals.requeue_approvalrequest"),
    }


def _seconds_left(req: ApprovalRequest, now) -> int:
    """Whole seconds left in the undo window (0 when there is none)."""
    if req.status != ApprovalRequest.Status.APPROVED or req.execute_after is None:
        return 0
    return max(0, int((req.execute_after - now).total_seconds() + 0.999))


def _undo_items(request: AuthenticatedHtmxHttpRequest, *, now, exclude: int | None = None) -> list[dict]:
    """The user's approvals still in their undo window, for the Undo bar: ``{"req", "seconds"}``."""
    if not app_settings.UNDO_SECONDS:
        return []  # the window is off: nothing to look up
    return [
        {"req": req, "seconds": _seconds_left(req, now)}
        for req in approval_undoable_for(user=request.user)
        if req.pk != exclude and _seconds_left(req, now)
    ]


@require_GET
@login_required
def detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    # A request the user may not see is a 404: they learn nothing about it.
    req = get_object_or_404(approval_visible_to(user=request.user).select_related("ai_run", "policy"), pk=pk)
    return render(request, "approvals/detail.html", _detail_context(request, req))


@require_POST
@login_required
def decide(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(approval_visible_to(user=request.user), pk=pk)
    form = DecisionForm(request.POST, req=req)
    error = ""
    conflict = False
    if form.is_valid():
        verdict = form.cleaned_data["verdict"]
        edits = form.edits() if verdict == Decision.Verdict.APPROVE else {}
        if edits:
            verdict = Decision.Verdict.APPROVE_WITH_EDITS
        try:
            req = approval_decide(
                request_id=req.pk,
                reviewer=request.user,
                verdict=verdict,
                edits=edits or None,
                reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"],
                payload_hash=form.cleaned_data["payload_hash"],
            )
        except PayloadConflict as exc:
            error, conflict = str(exc), True
        except InvalidInput as exc:
            for field, text in exc.errors.items():
                name = f"edit_{field}" if f"edit_{field}" in form.fields else None
                form.add_error(name, text)
        except ApprovalError as exc:
            error = str(exc)
        else:
            if form.cleaned_data["then_next"]:
                return _to_next(request, req, _queue_order(form.cleaned_data["order"]))
            if not request.htmx:
                messages.success(request, "Decision recorded.")
                return redirect("approvals:detail", pk=req.pk)
            req = approval_visible_to(user=request.user).select_related("ai_run", "policy").get(pk=req.pk)
            return render(request, "approvals/detail.html#main", _detail_context(request, req))
    req.refresh_from_db()
    context = _detail_context(request, req)
    if context["can_decide"] and conflict:
        # Show the current version to decide on again; keep the reviewer's comment and reason.
        context["form"] = DecisionForm(
            req=req, initial={"comment": form.cleaned_data["comment"], "reason": form.cleaned_data["reason"]}
        )
    elif context["can_decide"]:
        context["form"] = form  # keep what the reviewer typed, with the errors on it
    context["error"] = error
    context["conflict"] = conflict
    template = "approvals/detail.html#main" if request.htmx else "approvals/detail.html"
    status = 200 if request.htmx else 409 if conflict else 400
    return render(request, template, context, status=status)


def _to_next(request: AuthenticatedHtmxHttpRequest, decided: ApprovalRequest, order: str) -> HttpResponse:
    """After "Approve and next": the next item in the queue order, or the queue when none is left."""
    next_id = approval_next_in_queue(user=request.user, after_id=decided.pk, order=order)
    suffix = f"?order={order}" if order != "priority" else ""
    if next_id is None:
        messages.success(request, "Decision recorded. Nothing else is waiting for you.")
        url = reverse("approvals:queue") + suffix
    else:
        messages.success(request, f"Decision recorded on #{decided.pk}. Here is the next one.")
        url = reverse("approvals:detail", kwargs={"pk": next_id}) + suffix
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _queue_url(back: str) -> str:
    """The queue with the filters it was on (``back`` is its query string, re-encoded)."""
    query = QueryDict(back or "").urlencode()
    return reverse("approvals:queue") + (f"?{query}" if query else "")


@require_POST
@login_required
def undo(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The Undo button of the undo window: the approval is taken back and the request is pending again."""
    req = get_object_or_404(approval_visible_to(user=request.user), pk=pk)
    try:
        approval_undo(request_id=req.pk, actor=request.user)
    except ApprovalError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Undone: #{req.pk} was not sent and is waiting for a decision again.")
    if request.POST.get("to") == "queue":
        return redirect(_queue_url(request.POST.get("back", "")))
    return redirect("approvals:detail", pk=req.pk)


@require_POST
@login_required
def bulk(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """ "Approve selected" / "Reject selected" on the queue: one decision per ticked item."""
    form = BulkDecisionForm(request.POST)
    back = _queue_url(request.POST.get("back", ""))
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = "" if field == "__all__" else f"{form.fields[field].label or field.capitalize()}: "
            messages.error(request, label + " ".join(str(error) for error in errors))
        return redirect(back)
    try:
        outcome = approval_decide_bulk(
            reviewer=request.user,
            verdict=form.cleaned_data["verdict"],
            items=form.pairs(),
            reason=form.cleaned_data["reason"],
        )
    except InvalidInput as exc:
        messages.error(request, "Nothing was decided. " + " ".join(exc.errors.values()))
        return redirect(back)
    except ApprovalError as exc:
        messages.error(request, f"Nothing was decided. {exc}")
        return redirect(back)
    (messages.success if outcome.decided else messages.warning)(request, outcome.summary())
    return redirect(back)


@require_POST
@login_required
def escalate(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The "Send to a manager" button: for a reviewer whose authority does not cover the amount."""
    req = get_object_or_404(approval_visible_to(user=request.user), pk=pk)
    try:
        approval_escalate_now(request_id=req.pk, actor=request.user)
    except ApprovalError as exc:
        messages.error(request, str(exc))
        return redirect("approvals:detail", pk=req.pk)
    messages.success(request, "Sent to a manager. They have been notified.")
    return redirect("approvals:queue")


@require_POST
@login_required
@permission_required("approvals.requeue_approvalrequest", raise_exception=True)
def requeue(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(approval_visible_to(user=request.user), pk=pk)
    try:
        approval_requeue(request_id=req.pk, actor=request.user)
        messages.success(request, "Queued again for execution.")
    except ApprovalError as exc:
        messages.error(request, str(exc))
    return redirect("approvals:detail", pk=req.pk)


@require_GET
@login_required
def from_link(request: AuthenticatedHtmxHttpRequest, token: str) -> HttpResponse:
    """The signed link in a notification email. Login is still required, and so is permission."""
    try:
        request_id, _user_id = review_link_resolve(token)
    except LinkExpired as exc:
        messages.warning(request, str(exc))
        return redirect("approvals:queue")
    except LinkInvalid as exc:
        messages.error(request, str(exc))
        return redirect("approvals:queue")
    return redirect("approvals:detail", pk=request_id)


@require_GET
@login_required
@permission_required("approvals.view_approvalpolicy", raise_exception=True)
def analytics(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    days = _analytics_days(request.GET.get("days"))
    by = request.GET.get("by", "action")
    if by not in {"action", "policy", "reviewer", "model"}:
        by = "action"
    since = timezone.now() - timedelta(days=days)
    series = approval_daily_series(days=days)
    context = {
        "by": by,
        "rows": approval_stats(since=since, by=by),
        "quality": {
            "Acceptance (approved as proposed)": [(d["date"], d["acceptance"]) for d in series],
            "Edit ratio": [(d["date"], d["edit_ratio_avg"]) for d in series],
        },
        "backlog": [(d["date"], d["backlog_end_of_day"]) for d in series],
        "decided": [(d["date"], d["decided"]) for d in series],
        "breaches": [(d["date"], d["sla_breaches"]) for d in series],
        "days": days,
        "windows": ANALYTICS_WINDOWS,
    }
    return render(request, "approvals/analytics.html", context)


ANALYTICS_WINDOWS = (7, 30, 90)


def _analytics_days(raw: str | None) -> int:
    """The analytics window in days: one of :data:`ANALYTICS_WINDOWS` (30 for anything else)."""
    return int(raw) if raw in {str(days) for days in ANALYTICS_WINDOWS} else 30

"""The service desk UI: inbox, needs-human view, case page, knowledge base.

Views never send anything. "Approve and send" records the agent's decision on the reply's
approval request through ``approval_decide`` (same rules as the review queue); the
approvals executor then calls the handler that sends it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from approvals.exceptions import ApprovalError, InvalidInput
from approvals.models import ApprovalRequest, Decision
from approvals.selectors import can_decide
from approvals.services import approval_decide
from approvals.templatetags.approvals_ui import status_word
from hitl_crm.errors import InvalidState
from hitl_crm.paging import cursor_decode, keyset_page
from hitl_crm.types import AuthenticatedHtmxHttpRequest
from hitl_crm.validation import error_items, error_messages
from service.forms import (
    ArticleForm,
    CaseEditForm,
    CaseStatusForm,
    DraftDecisionForm,
    InboxFilterForm,
    ReplyForm,
    TriageCorrectionForm,
    person,
)
from service.models import Case
from service.selectors import (
    case_filter,
    case_inbox_keys,
    case_intents,
    case_list,
    case_pending_reply,
    case_refunds,
    case_suggested_articles,
    case_thread,
    case_workers,
    knowledge_list,
    knowledge_tags,
)
from service.services import (
    case_reply_submit,
    case_triage_correct,
    case_update,
    knowledge_article_create,
    knowledge_article_update,
)
from service.services.cases import may_work_cases

CASES_PER_PAGE = 25
ARTICLES_PER_PAGE = 30


def _errors_of(exc: ValidationError) -> list[str]:
    return error_messages(exc)


# --- inbox -------------------------------------------------------------------------------------


def _inbox(request: AuthenticatedHtmxHttpRequest, *, needs_human_only: bool) -> HttpResponse:
    form = InboxFilterForm(request.GET or None, intents=case_intents(user=request.user))
    filters = form.filters()
    if needs_human_only:
        filters = {**filters, "needs_human": True, "status": filters.get("status") or "active"}
    qs = case_filter(case_list(user=request.user), me=request.user, **filters)
    # Keyset pages (no OFFSET): a cursor carries the "now" its first page was ordered by, so the
    # overdue cases stay put while someone pages through.
    after, before = cursor_decode(request.GET.get("after", "")), cursor_decode(request.GET.get("before", ""))
    cursor = after or before
    now = timezone.now()
    stamped = parse_datetime(cursor[0]) if cursor else None
    if stamped is not None and stamped.tzinfo is not None and stamped <= now:
        now = stamped
    else:
        after = before = cursor = None
    page = keyset_page(
        qs,
        case_inbox_keys(now=now),
        per_page=CASES_PER_PAGE,
        stamp=now.isoformat(),
        after=after[1] if after else None,
        before=before[1] if before and not after else None,
    )
    query = request.GET.copy()
    for name in ("page", "after", "before"):
        query.pop(name, None)
    context = {
        "page": page,
        "form": form,
        "query": query.urlencode(),
        "now": timezone.now(),
        "needs_human_only": needs_human_only,
        "here": request.path,
    }
    # A history restore (Back/Forward with no cached snapshot) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "service/inbox.html#results" if partial else "service/inbox.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required("service.view_case", raise_exception=True)
@vary_on_headers("HX-Request")
def inbox(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    return _inbox(request, needs_human_only=False)


@require_GET
@login_required
@permission_required("service.view_case", raise_exception=True)
@vary_on_headers("HX-Request")
def needs_human(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    return _inbox(request, needs_human_only=True)


# --- case page ---------------------------------------------------------------------------------


def _draft_context(
    request: AuthenticatedHtmxHttpRequest, case: Case, *, form: DraftDecisionForm | None = None
) -> dict[str, Any]:
    pending = case_pending_reply(case=case)
    allowed, why_not = (False, "")
    if pending is not None:
        allowed, why_not = can_decide(request=pending, user=request.user)
    if pending is not None and allowed and form is None:
        form = DraftDecisionForm(
            initial={
                "subject": pending.final.get("subject"),
                "body": pending.final.get("body"),
                "verdict": Decision.Verdict.APPROVE,
            }
        )
    return {"pending": pending, "can_decide": allowed, "why_not": why_not, "draft_form": form if allowed else None}


def _case_context(request: AuthenticatedHtmxHttpRequest, case: Case, **extra: Any) -> dict[str, Any]:
    intents = case_intents(user=request.user)
    context = {
        "case": case,
        "thread": list(case_thread(case=case)),
        "articles": case_suggested_articles(case=case),
        "refunds": case_refunds(case=case),
        "intents": intents,
        "correction_form": TriageCorrectionForm(intents=intents),
        "reply_form": ReplyForm(),
        **_head_context(request, case, edit_form=extra.pop("edit_form", None)),
        **_draft_context(request, case, form=extra.pop("draft_form", None)),
    }
    context.update(extra)
    return context


def _head_context(
    request: AuthenticatedHtmxHttpRequest, case: Case, *, edit_form: CaseEditForm | None = None, **extra: Any
) -> dict[str, Any]:
    """What the case header needs: the case's status, priority, owner and tags, and the edit panel
    (``edit_form``, shown when given)."""
    can_change = request.user.has_perm("service.change_case")
    return {
        "case": case,
        "can_change": can_change,
        "can_assign_me": can_change and case.owner_id != request.user.pk and may_work_cases(request.user),
        "edit_form": edit_form,
        "now": timezone.now(),
        **extra,
    }


def _render_head(request: AuthenticatedHtmxHttpRequest, case: Case, *, status: int = 200, **extra: Any) -> HttpResponse:
    """The case header alone for HTMX (it swaps ``#case-head``), the whole case page otherwise (and for
    a history restore: the edit panel has its own URL, so a sign-in in between comes back to it)."""
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "service/case_detail.html#case_head", _head_context(request, case, **extra))
    return render(request, "service/case_detail.html", _case_context(request, case, **extra), status=status)


def _case_or_404(request: AuthenticatedHtmxHttpRequest, pk: int) -> Case:
    return get_object_or_404(case_list(user=request.user), pk=pk)


@require_GET
@login_required
@permission_required("service.view_case", raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def case_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    if request.htmx and request.htmx.target == "case-head" and not request.htmx.history_restore_request:
        # "Cancel" in the edit panel: the header as it is, without the form.
        return render(request, "service/case_detail.html#case_head", _head_context(request, case))
    return render(request, "service/case_detail.html", _case_context(request, case))


def _changes_text(before: Case, after: Case) -> str:
    """What an edit changed, in the words the page uses: "Status: Resolved · Owner: Ada Lind"."""
    parts = []
    if before.status != after.status:
        parts.append(f"Status: {status_word(after)}")
    if before.priority != after.priority:
        parts.append(f"Priority: {after.get_priority_display()}")
    if before.owner_id != after.owner_id:
        parts.append(f"Owner: {person(after.owner) if after.owner else 'unassigned'}")
    if before.tags != after.tags:
        parts.append(f"Tags: {', '.join(after.tags) or 'none'}")
    return "Saved. " + " · ".join(parts) + "." if parts else "Nothing to change."


def _service_errors(form: CaseEditForm, exc: ValidationError) -> None:
    """A service's refusal, next to the field it names (or above the form)."""
    for item in error_items(exc):
        form.add_error(item.field if item.field in form.fields else None, item.message)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("service.change_case", raise_exception=True)
@vary_on_headers("HX-Request")
def case_edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The case's status, priority, owner and tags: the edit panel (GET) and saving it (POST).

    With HTMX the panel swaps the case header; without it, a plain POST and a redirect."""
    case = _case_or_404(request, pk)
    owners = list(case_workers(user=request.user))
    if request.method == "GET":
        return _render_head(request, case, edit_form=CaseEditForm.for_case(case, owners=owners))
    form = CaseEditForm(request.POST, owners=owners)
    if form.is_valid():
        try:
            updated = case_update(case=case, actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            text = _changes_text(case, updated)
            if not request.htmx:
                messages.success(request, text)
                return redirect(case.get_absolute_url())
            response = _render_head(request, _case_or_404(request, pk), head_saved=text)
            response["HX-Push-Url"] = case.get_absolute_url()  # the panel closed: back to the case's own URL
            return response
    # Invalid: the panel again, each message next to its field (HTMX swaps only a 2xx answer).
    return _render_head(request, case, edit_form=form, status=400)


@require_POST
@login_required
@permission_required("service.change_case", raise_exception=True)
def case_assign_me(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The "Assign to me" button: the signed-in person becomes the case's owner."""
    case = _case_or_404(request, pk)
    try:
        case_update(case=case, actor=request.user, data={"owner": request.user})
    except ValidationError as exc:
        text, ok = "; ".join(error_messages(exc)), False
    else:
        text, ok = "Assigned to you.", True
    if not request.htmx:
        (messages.success if ok else messages.error)(request, text)
        return redirect(case.get_absolute_url())
    case = _case_or_404(request, pk)
    if ok:
        return _render_head(request, case, head_saved=text)
    return _render_head(request, case, head_error=text)


@require_POST
@login_required
@permission_required("service.change_case", raise_exception=True)
def case_triage(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """An agent corrects intent and/or sentiment (training data for triage)."""
    case = _case_or_404(request, pk)
    form = TriageCorrectionForm(request.POST, intents=case_intents(user=request.user))
    saved = False
    if form.is_valid():
        try:
            case = case_triage_correct(case=case, actor=request.user, **form.values())
            saved = True
        except ValidationError as exc:
            form.add_error(None, "; ".join(_errors_of(exc)))
    case = _case_or_404(request, pk)
    if not request.htmx:
        if saved:
            messages.success(request, "Thanks: triage will learn from your correction.")
        return redirect(case.get_absolute_url())
    context = _case_context(request, case, correction_form=form if not saved else None, triage_saved=saved)
    if context["correction_form"] is None:
        context["correction_form"] = TriageCorrectionForm(intents=context["intents"])
    return render(request, "service/case_detail.html#triage", context)


@require_POST
@login_required
@permission_required("service.view_case", raise_exception=True)
def case_draft_decide(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """Approve (and so send) or reject the reply waiting for approval — through approvals' own service."""
    case = _case_or_404(request, pk)
    pending = case_pending_reply(case=case)
    form: DraftDecisionForm | None  # None once decided: the page then shows the outcome, not the form
    form = DraftDecisionForm(request.POST)
    error = ""
    outcome = ""
    if pending is None or pending.status != ApprovalRequest.Status.PENDING:
        error = "There is no reply waiting for a decision any more."
    elif form.is_valid():
        verdict = form.cleaned_data["verdict"]
        edits = form.edits(pending.final) if verdict == Decision.Verdict.APPROVE else {}
        try:
            decided = approval_decide(
                request_id=pending.pk,
                reviewer=request.user,
                verdict=Decision.Verdict.APPROVE_WITH_EDITS if edits else verdict,
                edits=edits or None,
                reason=form.cleaned_data["reason"],
                payload_hash=form.cleaned_data["payload_hash"],
            )
        except InvalidInput as exc:
            for field, text in exc.errors.items():
                form.add_error(field if field in form.fields else None, text)
        except ApprovalError as exc:
            error = str(exc)
        else:
            decided.refresh_from_db()
            outcome = decided.status
            form = None
    case = _case_or_404(request, pk)
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif outcome:
            messages.success(request, _OUTCOME.get(outcome, "Decision recorded."))
        return redirect(case.get_absolute_url())
    context = _case_context(
        request,
        case,
        draft_form=form,
        draft_error=error,
        outcome=outcome,
        outcome_text=_OUTCOME.get(outcome, "Decision recorded.") if outcome else "",
    )
    return render(request, "service/case_detail.html#conversation", context)


_OUTCOME = {
    "executed": "Approved and sent.",
    "approved": "Approved — it is being sent now.",
    "executing": "Approved — it is being sent now.",
    "pending": "Approved. It needs another reviewer's approval before it is sent.",
    "rejected": "Rejected. Nothing was sent.",
    "failed": "Approved, but sending failed; see the review item.",
}


@require_POST
@login_required
@permission_required("service.change_case", raise_exception=True)
def case_reply(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """An agent's own reply: submitted for approval by someone else."""
    case = _case_or_404(request, pk)
    form = ReplyForm(request.POST)
    submitted = None
    if form.is_valid():
        try:
            submitted = case_reply_submit(
                case=case, author=request.user, body=form.cleaned_data["body"], subject=form.cleaned_data["subject"]
            )
        except ValidationError as exc:
            form.add_error(None, "; ".join(_errors_of(exc)))
        except (InvalidState, ApprovalError) as exc:
            form.add_error(None, str(exc))
    case = _case_or_404(request, pk)
    if not request.htmx:
        if submitted is not None:
            messages.success(request, "Your reply is waiting for another reviewer's approval.")
        else:
            messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(case.get_absolute_url())
    context = _case_context(
        request,
        case,
        reply_form=form if submitted is None else ReplyForm(),
        outcome_text="Your reply is waiting for another reviewer's approval." if submitted else "",
    )
    return render(request, "service/case_detail.html#conversation", context)


@require_POST
@login_required
@permission_required("service.change_case", raise_exception=True)
def case_status(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = CaseStatusForm(request.POST)
    if form.is_valid():
        updated = case_update(case=case, actor=request.user, data={"status": form.cleaned_data["status"]})
        messages.success(request, f"Case marked {status_word(updated).lower()}.")
    return redirect(case.get_absolute_url())


# --- knowledge base -------------------------------------------------------------------------------


@require_GET
@login_required
@permission_required("service.view_knowledgearticle", raise_exception=True)
@vary_on_headers("HX-Request")
def kb_list(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    tag = request.GET.get("tag", "").strip()[:40]
    page = Paginator(knowledge_list(user=request.user, q=q, tag=tag), ARTICLES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "q": q,
        "tag": tag,
        "tags": knowledge_tags(user=request.user),
        "can_add": request.user.has_perm("service.add_knowledgearticle"),
    }
    # A history restore (Back/Forward with no cached snapshot) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "service/kb_list.html#results" if partial else "service/kb_list.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required("service.view_knowledgearticle", raise_exception=True)
def kb_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(knowledge_list(user=request.user), pk=pk)
    return render(
        request,
        "service/kb_detail.html",
        {
            "article": article,
            "can_edit": request.user.has_perm("service.change_knowledgearticle"),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("service.add_knowledgearticle", raise_exception=True)
def kb_create(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            article = knowledge_article_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Article saved.")
            return redirect(article.get_absolute_url())
    return render(request, "service/kb_form.html", {"form": form, "article": None})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("service.change_knowledgearticle", raise_exception=True)
def kb_edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(knowledge_list(user=request.user), pk=pk)
    form = ArticleForm(request.POST or None, instance=article)
    if request.method == "POST" and form.is_valid():
        try:
            article = knowledge_article_update(article=article, actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Article saved.")
            return redirect(article.get_absolute_url())
    return render(request, "service/kb_form.html", {"form": form, "article": article})

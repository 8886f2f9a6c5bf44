from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from hitl_crm.contacts.selectors import contact_list, contact_order_keys, contact_timeline
from hitl_crm.hooks import app_hooks
from hitl_crm.paging import cursor_decode, keyset_page
from hitl_crm.types import AuthenticatedHtmxHttpRequest
from hitl_crm.web.crm_views import contact_page
from hitl_crm.web.selectors import (
    OUTBOX_KINDS,
    dashboard_customer_panels,
    dashboard_my_work,
    outbox_files,
    outbox_message_sent_by,
    sees_background_work,
    worker_status,
)

CONTACTS_PER_PAGE = 25
TIMELINE_PER_PAGE = 30
SEARCH_LIMIT = 8  # matches shown per group on the search page


@require_GET
@login_required
def dashboard(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    # Apps add their own figures: AppConfig.dashboard_stats(user) -> [{"label", "value", "url"}].
    app_stats = [stat for hook in app_hooks("dashboard_stats") for stat in hook.value(request.user)]
    context = {
        # What the user should do today comes first: AppConfig.my_work(user) -> [section, ...].
        "my_work": dashboard_my_work(user=request.user),
        "app_stats": app_stats,
        **dashboard_customer_panels(user=request.user),
        # How background work runs is the admins' business; others are not shown the warning.
        "workers": worker_status() if sees_background_work(request.user) else None,
    }
    return render(request, "web/dashboard.html", context)


@require_GET
@login_required
@permission_required("contacts.view_contact", raise_exception=True)
@vary_on_headers("HX-Request")
def contact_list_view(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    # Keyset pages (no OFFSET, a count capped at COUNT_CAP): a deep page costs what the first does.
    # A cursor that is not one (or does not fit the keys) shows the first page.
    after, before = cursor_decode(request.GET.get("after", "")), cursor_decode(request.GET.get("before", ""))
    page = keyset_page(
        contact_list(user=request.user, search=q),
        contact_order_keys(searching=bool(q.split())),
        per_page=CONTACTS_PER_PAGE,
        after=after[1] if after else None,
        before=before[1] if before and not after else None,
    )
    query = urlencode({"q": q}) if q else ""  # the search, kept by the pager links
    # A history restore (Back/Forward with no cached snapshot) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "web/contact_list.html#results" if partial else "web/contact_list.html"
    return render(request, template, {"page": page, "q": q, "query": query})


@require_GET
@login_required
@permission_required("contacts.view_contact", raise_exception=True)
def contact_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(contact_list(user=request.user), pk=pk)
    page = Paginator(contact_timeline(contact=contact), TIMELINE_PER_PAGE).get_page(request.GET.get("page"))
    if request.htmx:
        return render(request, "web/contact_detail.html#timeline", {"contact": contact, "page": page})
    return contact_page(request, contact, page=page)  # with the badges, the edit and log panels


def _search_groups(*, user: Any, query: str) -> list[dict[str, Any]]:
    """Matches for ``query``, grouped by kind: contacts first, then each app's ``search`` hook in app order."""
    if not query:
        return []
    results = [
        {
            "label": str(c),
            "url": c.get_absolute_url(),
            "kind": "Contacts",
            "detail": c.account.name if c.account else c.email,
        }
        for c in contact_list(user=user, search=query).order_by("last_name", "first_name", "pk")[:SEARCH_LIMIT]
    ]
    # Apps add their own matches: AppConfig.search(user, query, limit) -> [{"label", "url", "kind", "detail"}].
    for hook in app_hooks("search"):
        results.extend(hook.value(user, query, SEARCH_LIMIT))
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(result["kind"], []).append(result)
    return [{"kind": kind, "results": rows} for kind, rows in groups.items()]


@require_GET
@login_required
@vary_on_headers("HX-Request")
def search(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Contacts, leads, cases and campaigns matching ``q``, only those the user may see."""
    q = request.GET.get("q", "").strip()[:100]
    groups = _search_groups(user=request.user, query=q)
    partial = request.htmx and not request.htmx.history_restore_request
    template = "web/search.html#results" if partial else "web/search.html"
    return render(request, template, {"q": q, "groups": groups})


def _mail_dir() -> Path:
    return Path(settings.EMAIL_FILE_PATH)


def _read_eml(path: Path) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain", "html"))
    return {
        "id": path.stem,
        "subject": message.get("Subject", ""),
        "to": message.get("To", ""),
        "from": message.get("From", ""),
        "date": message.get("Date", ""),
        "headers": [(k, v) for k, v in message.items()],
        "body": body.get_content() if body is not None else "",
    }


OUTBOX_SENDERS = {"": "Everyone", "me": "Sent by me"}


def _sees_all_mail(user: Any) -> bool:
    """Staff (managers, admins) see every message; others only what went out on their word.

    Other people's mail includes reviewer notifications, whose links sign their reader in to decide.
    """
    return bool(user.is_staff)


@require_GET
@login_required
def outbox(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Mail written by the file backend (the embedded default), newest first.

    Staff see all of it and may narrow it to "Sent by me"; everyone else sees only the mail sent on
    their word (the replies and follow-ups they approved or asked for).
    """
    kind = request.GET.get("kind", "")
    if kind and kind not in OUTBOX_KINDS:
        return HttpResponseBadRequest(f"kind: unknown kind {kind[:40]!r}; choose one of {', '.join(OUTBOX_KINDS)}.")
    sees_all = _sees_all_mail(request.user)
    sender = request.GET.get("sender", "" if sees_all else "me")
    if sender not in OUTBOX_SENDERS:
        return HttpResponseBadRequest(f"sender: unknown sender {sender[:40]!r}; choose 'me' or leave it empty.")
    if not sees_all:
        sender = "me"
    file_backend = settings.EMAIL_BACKEND == "hitl_crm.delivery.EmlFileBackend"
    sent_by = request.user if sender == "me" else None
    files = outbox_files(mail_dir=_mail_dir(), kind=kind, sent_by=sent_by) if file_backend else []
    page = Paginator(files, 25).get_page(request.GET.get("page"))
    messages = [_read_eml(p) for p in page.object_list]
    query = urlencode({name: value for name, value in (("kind", kind), ("sender", sender)) if value})
    context = {
        "page": page,
        "mails": messages,
        "file_backend": file_backend,
        "kind": kind,
        "kinds": OUTBOX_KINDS,
        "kind_label": OUTBOX_KINDS.get(kind, ""),
        "sender": sender,
        "senders": OUTBOX_SENDERS,
        "sees_all": sees_all,
        "query": query,
    }
    return render(request, "web/outbox.html", context)


@require_GET
@login_required
def outbox_message(request: AuthenticatedHtmxHttpRequest, name: str) -> HttpResponse:
    path = _mail_dir() / f"{name}.eml"
    # The name comes from the URL: only plain file names inside the mail folder are served.
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise Http404("No such message")
    if not _sees_all_mail(request.user) and not outbox_message_sent_by(path=path, user=request.user):
        raise Http404("No such message")
    return render(request, "web/outbox_message.html", {"mail": _read_eml(path)})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


_ERRORS = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("You don't have access to this", "Ask a manager or an admin for the role that includes it."),
    404: ("Page not found", "The page may have moved, or the item was removed or is not shared with you."),
    500: ("Something went wrong on our side", "The error has been logged. Try again in a moment."),
}


def _error(request: HttpRequest, code: int) -> HttpResponse:
    title, text = _ERRORS[code]
    context = {"code": code, "title": title, "text": text}
    if code == 500:
        # Render without context processors: whatever failed may fail again inside them.
        from django.template import loader

        return HttpResponse(loader.get_template("web/error.html").render(context), status=500)
    return render(request, "web/error.html", context, status=code)


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a styled 403 that ``web/htmx-errors.js`` recognises by its header.

    Usually the page was open while the person signed out and in again elsewhere, so its token is old;
    the script saves the unsaved fields and reloads the page to get a fresh one.
    """
    context = {
        "code": 403,
        "title": "This page was open too long",
        "text": "For your security the form could not be sent. Reload the page and send it again.",
    }
    response = render(request, "web/error.html", context, status=403)
    response["X-CSRF-Failure"] = "1"
    return response


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404)


def error_500(request: HttpRequest) -> HttpResponse:
    return _error(request, 500)

"""CRM basics on the contact and account pages: inline edits and logging a call, meeting or note.

Each form works without JavaScript (a plain POST, then a redirect back to the page, or the page
again with the errors next to the fields) and, with HTMX, swaps only its panel. Errors go back to
HTMX with status 200, because htmx 2 does not swap 4xx responses by default; plain POSTs with
errors answer 422. The services check permissions, lock, validate and audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hitl_crm.contacts.forms import AccountEditForm, ActivityLogForm, ContactEditForm
from hitl_crm.contacts.models import Account, Activity, Contact
from hitl_crm.contacts.selectors import account_contacts, account_list, contact_list, contact_timeline
from hitl_crm.contacts.services import account_update, activity_log, contact_update
from hitl_crm.hooks import app_hooks
from hitl_crm.types import AuthenticatedHtmxHttpRequest
from hitl_crm.validation import error_items

ACCOUNT_CONTACTS_SHOWN = 50


def _service_errors_to_form(form: Form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names (or above the form)."""
    for item in error_items(exc):
        form.add_error(item.field if item.field in form.fields else None, item.message)


def _first_timeline_page(contact: Contact) -> Page:
    from hitl_crm.web.views import TIMELINE_PER_PAGE  # the contact page's paging (views imports this module)

    return Paginator(contact_timeline(contact=contact), TIMELINE_PER_PAGE).get_page(1)


# --- the contact page ---------------------------------------------------------------------------


def _contact(request: AuthenticatedHtmxHttpRequest, pk: int) -> Contact:
    return get_object_or_404(contact_list(user=request.user).select_related("owner"), pk=pk)


def contact_page(
    request: AuthenticatedHtmxHttpRequest,
    contact: Contact,
    *,
    page: Page | None = None,
    edit_form: ContactEditForm | None = None,
    log_form: ActivityLogForm | None = None,
    editing: bool = False,
    status: int = 200,
) -> HttpResponse:
    """The whole contact page: details (or the edit panel), the log form and the timeline."""
    # Apps add badges: AppConfig.contact_badges(contact, user) -> [{"label", "value", "css", "title"}].
    badges = [badge for hook in app_hooks("contact_badges") for badge in hook.value(contact, request.user)]
    context = {
        "contact": contact,
        "page": page or _first_timeline_page(contact),
        "badges": badges,
        "editing": editing or edit_form is not None,
        "edit_form": edit_form or (ContactEditForm(instance=contact, auto_id="contact-%s") if editing else None),
        "log_form": log_form or ActivityLogForm(auto_id="log-%s"),
    }
    return render(request, "web/contact_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("contacts.change_contact", raise_exception=True)
def contact_edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the edit panel (HTMX) or the page with it open; POST: save owner, tags, title, phone, consent."""
    contact = _contact(request, pk)
    if request.method == "GET":
        if request.htmx:
            form = ContactEditForm(instance=contact, auto_id="contact-%s")
            return render(request, "web/_contact_edit.html", {"contact": contact, "edit_form": form})
        return contact_page(request, contact, editing=True)
    form = ContactEditForm(request.POST, instance=contact, auto_id="contact-%s")
    changes: dict[str, Any] = {}
    if form.is_valid():
        changes = form.changes()
        try:
            contact = contact_update(contact=contact, data=changes, actor=request.user)
        except ValidationError as exc:
            _service_errors_to_form(form, exc)
    if form.errors:
        if request.htmx:
            return render(request, "web/_contact_edit.html", {"contact": contact, "edit_form": form})
        return contact_page(request, contact, edit_form=form, status=422)
    saved = "Saved." if changes else "Nothing to save: no field was changed."
    if not request.htmx:
        messages.success(request, saved)
        return redirect(contact)
    contact = _contact(request, pk)
    context = {"contact": contact, "page": _first_timeline_page(contact), "saved": saved, "oob": True}
    return render(request, "web/contact_detail.html#saved", context)


@require_POST
@login_required
@permission_required("contacts.add_activity", raise_exception=True)
def contact_log_activity(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """Log a call, meeting or note; with HTMX the timeline is refreshed in place."""
    contact = _contact(request, pk)
    form = ActivityLogForm(request.POST, auto_id="log-%s")
    activity: Activity | None = None
    if form.is_valid():
        try:
            activity = activity_log(contact=contact, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _service_errors_to_form(form, exc)
    if activity is None:
        if request.htmx:
            return render(request, "web/_log_activity.html", {"contact": contact, "log_form": form})
        return contact_page(request, contact, log_form=form, status=422)
    logged = f"{activity.get_kind_display()} logged."
    if not request.htmx:
        messages.success(request, logged)
        return redirect(f"{contact.get_absolute_url()}#timeline")
    context = {
        "contact": contact,
        "log_form": ActivityLogForm(auto_id="log-%s"),
        "logged": logged,
        "page": _first_timeline_page(contact),
        "oob": True,
    }
    return render(request, "web/contact_detail.html#logged", context)


# --- the account page ---------------------------------------------------------------------------


def _account(request: AuthenticatedHtmxHttpRequest, pk: int) -> Account:
    return get_object_or_404(account_list(user=request.user).select_related("owner"), pk=pk)


def _account_page(
    request: AuthenticatedHtmxHttpRequest,
    account: Account,
    *,
    edit_form: AccountEditForm | None = None,
    editing: bool = False,
    status: int = 200,
) -> HttpResponse:
    contacts = account_contacts(user=request.user, account=account)
    context: dict[str, Any] = {
        "account": account,
        "contacts": contacts[:ACCOUNT_CONTACTS_SHOWN],
        "contacts_shown": ACCOUNT_CONTACTS_SHOWN,
        "editing": editing or edit_form is not None,
        "edit_form": edit_form or (AccountEditForm(instance=account, auto_id="account-%s") if editing else None),
    }
    return render(request, "web/account_detail.html", context, status=status)


@require_GET
@login_required
@permission_required("contacts.view_account", raise_exception=True)
def account_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """An account: its owner, tier and tags, the people there, and (for who may) an edit panel."""
    return _account_page(request, _account(request, pk))


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("contacts.change_account", raise_exception=True)
def account_edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the edit panel (HTMX) or the page with it open; POST: save owner, tags, tier, industry."""
    account = _account(request, pk)
    if request.method == "GET":
        if request.htmx:
            form = AccountEditForm(instance=account, auto_id="account-%s")
            return render(request, "web/account_detail.html#edit", {"account": account, "edit_form": form})
        return _account_page(request, account, editing=True)
    form = AccountEditForm(request.POST, instance=account, auto_id="account-%s")
    changes: dict[str, Any] = {}
    if form.is_valid():
        changes = form.changes()
        try:
            account = account_update(account=account, data=changes, actor=request.user)
        except ValidationError as exc:
            _service_errors_to_form(form, exc)
    if form.errors:
        if request.htmx:
            return render(request, "web/account_detail.html#edit", {"account": account, "edit_form": form})
        return _account_page(request, account, edit_form=form, status=422)
    saved = "Saved." if changes else "Nothing to save: no field was changed."
    if not request.htmx:
        messages.success(request, saved)
        return redirect(account)
    account = _account(request, pk)
    return render(request, "web/account_detail.html#details", {"account": account, "saved": saved})

"""Leads pages (HTMX): hottest prospects, the lead page, CSV imports and scoring settings.

Function views, one template per page with ``{% partialdef %}``; HTMX requests get the
partial. Views validate input and call one service or selector.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from approvals.exceptions import ApprovalError
from hitl_crm.paging import cursor_decode, keyset_page
from hitl_crm.permissions import require_permission
from hitl_crm.types import AuthenticatedHtmxHttpRequest
from hitl_crm.validation import error_items, error_messages
from leads import selectors, services
from leads.conf import app_settings
from leads.followups import followup_subject
from leads.forms import (
    FollowupWriteForm,
    LeadEditForm,
    MappingForm,
    OverrideForm,
    ProspectFilterForm,
    RuleForm,
    TrainForm,
    UploadForm,
)
from leads.import_jobs import IMPORT_PERMISSION
from leads.learning import features_of
from leads.models import Lead, LeadImport, ScoringModel, ScoringRule

PER_PAGE = 25
TIMELINE_PER_PAGE = 20


def _messages(error: Exception) -> list[str]:
    return error_messages(error) if isinstance(error, ValidationError) else [str(error)]


def _lead_or_404(request: AuthenticatedHtmxHttpRequest, pk: int) -> Lead:
    try:
        return selectors.lead_get(user=request.user, pk=pk)
    except Lead.DoesNotExist:
        raise Http404("No such lead") from None


# --- hottest prospects --------------------------------------------------------------------------


@require_GET
@login_required
@permission_required("leads.view_lead", raise_exception=True)
@vary_on_headers("HX-Request")
def prospects(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = ProspectFilterForm(request.GET or None, sources=selectors.lead_sources(user=request.user))
    filters = form.filters()
    # Keyset pages (no OFFSET, a count capped at COUNT_CAP): a deep page costs what the first does.
    # A cursor that is not one (or does not fit the keys) shows the first page.
    after, before = cursor_decode(request.GET.get("after", "")), cursor_decode(request.GET.get("before", ""))
    page = keyset_page(
        selectors.lead_list(user=request.user, **filters),
        selectors.lead_rank_keys(),
        per_page=PER_PAGE,
        after=after[1] if after else None,
        before=before[1] if before and not after else None,
    )
    query = request.GET.copy()
    for name in ("page", "after", "before"):
        query.pop(name, None)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "statuses": Lead.Status.choices,
    }
    # A history restore (Back/Forward with no cached snapshot) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "leads/prospects.html#results" if partial else "leads/prospects.html"
    return render(request, template, context)


@require_POST
@login_required
@permission_required("leads.view_lead", raise_exception=True)
def status(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The status select of a row in the prospects list (HTMX swaps the cell; without JavaScript
    the form posts and returns to the list)."""
    lead = _lead_or_404(request, pk)
    error = ""
    try:
        lead = services.lead_update(lead=lead, data={"status": request.POST.get("status", "")}, actor=request.user)
    except ValidationError as exc:
        error = " ".join(_messages(exc))
    if not request.htmx:
        if error:
            messages.error(request, f"{lead}: {error}")
        else:
            messages.success(request, f"{lead}: {lead.get_status_display()}.")
        return redirect("leads:prospects")
    context = {"lead": lead, "statuses": Lead.Status.choices, "status_error": error, "status_saved": not error}
    return render(request, "leads/prospects.html#status_cell", context)


# --- the lead page ------------------------------------------------------------------------------


def _detail_context(request: AuthenticatedHtmxHttpRequest, lead: Lead, **extra: Any) -> dict[str, Any]:
    if "edit_form" not in extra and request.GET.get("edit") and _may_edit(request, lead):
        extra["edit_form"] = _edit_form(request, lead)
    history = selectors.lead_score_history(lead=lead)
    timeline = Paginator(selectors.lead_timeline(lead=lead), TIMELINE_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "lead": lead,
        "history": history,
        "series": selectors.score_series(history),
        "timeline": timeline,
        "followups": selectors.lead_followups(lead=lead, user=request.user),
        "override_form": extra.pop("override_form", None) or OverrideForm(initial={"score": lead.score}),
        "write_form": extra.pop("write_form", None) or FollowupWriteForm(initial={"subject": followup_subject(lead)}),
        "thresholds": app_settings.TIER_THRESHOLDS,
        "can_edit": _may_edit(request, lead),
        **extra,
    }


def _may_edit(request: AuthenticatedHtmxHttpRequest, lead: Lead) -> bool:
    return request.user.has_perm("leads.change_lead") or request.user.has_perm("leads.change_lead", lead)


def _edit_form(request: AuthenticatedHtmxHttpRequest, lead: Lead, data: Any = None) -> LeadEditForm:
    owners = selectors.lead_owner_choices(user=request.user, current_id=lead.owner_id)
    return LeadEditForm(data, lead=lead, owners=owners, default_currency=app_settings.DEFAULT_CURRENCY)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("leads.view_lead", raise_exception=True)
@vary_on_headers("HX-Request")
def edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """The lead's details panel as a form (GET) and its save (POST): status, owner, value, tags.

    HTMX swaps the panel; without JavaScript the form posts normally and a save redirects to the
    lead page. Errors are shown next to their field (the page or panel comes back with them: 422
    for a full page; 200 for the HTMX panel, which htmx swaps only for a successful status).
    """
    lead = _lead_or_404(request, pk)
    require_permission(request.user, "leads.change_lead", lead, message="You may not change this lead.")
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(request, "leads/detail.html#details", _detail_context(request, lead, edit_form=None))
        form = _edit_form(request, lead)
        if not request.htmx:
            return render(request, "leads/detail.html", _detail_context(request, lead, edit_form=form))
        return render(request, "leads/detail.html#details", _detail_context(request, lead, edit_form=form))
    form = _edit_form(request, lead, request.POST)
    if form.is_valid():
        try:
            lead = services.lead_update(lead=lead, data=form.data_for_service(), actor=request.user)
        except ValidationError as exc:
            for item in error_items(exc):
                name = LeadEditForm.SERVICE_FIELDS.get(item.field or "", item.field or "")
                form.add_error(name if name in form.fields else None, item.message)
    if form.errors:
        if request.htmx:
            return render(request, "leads/detail.html#details", _detail_context(request, lead, edit_form=form))
        return render(request, "leads/detail.html", _detail_context(request, lead, edit_form=form), status=422)
    if not request.htmx:
        messages.success(request, "Saved.")
        return redirect(lead.get_absolute_url())
    lead = _lead_or_404(request, pk)
    return render(request, "leads/detail.html#details", _detail_context(request, lead, edit_form=None, saved=True))


@require_GET
@login_required
@permission_required("leads.view_lead", raise_exception=True)
@vary_on_headers("HX-Request")
def detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    lead = _lead_or_404(request, pk)
    template = "leads/detail.html#timeline" if request.htmx else "leads/detail.html"
    return render(request, template, _detail_context(request, lead))


@require_POST
@login_required
@permission_required("leads.override_lead_score", raise_exception=True)
def override(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    lead = _lead_or_404(request, pk)
    errors: list[str] = []
    form = OverrideForm(request.POST)
    ok = True
    if request.POST.get("action") == "clear":
        lead = services.lead_score_override_clear(lead=lead, actor=request.user, reason="Back to the computed score")
        form = OverrideForm(initial={"score": lead.score})
    elif form.is_valid():
        try:
            lead = services.lead_score_override(
                lead=lead, score=form.cleaned_data["score"], reason=form.cleaned_data["reason"], actor=request.user
            )
            form = OverrideForm(initial={"score": lead.score})
        except ValidationError as exc:
            errors, ok = _messages(exc), False
    else:
        ok = False
    if not request.htmx:
        if not ok:
            messages.error(
                request,
                "The score was not changed: "
                + "; ".join(errors or [str(m) for msgs in form.errors.values() for m in msgs]),
            )
        return redirect(lead.get_absolute_url())
    context = _detail_context(request, lead, override_form=form, override_errors=errors)
    return render(request, "leads/detail.html#score", context, status=200 if ok else 422)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("leads.view_lead", raise_exception=True)
def followup(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the follow-up panel (polled while the AI drafts). POST: ask the AI for a draft."""
    lead = _lead_or_404(request, pk)
    error = ""
    if request.method == "POST":
        try:
            if not services.lead_followup_request_draft(lead=lead, actor=request.user):
                error = "A follow-up for this lead is already being drafted or waiting for approval."
        except ValidationError as exc:
            error = " ".join(_messages(exc))
        if not request.htmx:
            if error:
                messages.error(request, error)
            return redirect(lead.get_absolute_url())
    return render(request, "leads/detail.html#followup", _detail_context(request, lead, followup_error=error))


@require_POST
@login_required
@permission_required("leads.change_lead", raise_exception=True)
def followup_write(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """A follow-up the rep wrote: it goes to approval like the AI's."""
    lead = _lead_or_404(request, pk)
    form = FollowupWriteForm(request.POST)
    write_form: FollowupWriteForm | None = form  # None once submitted: the panel shows a fresh form
    error = ""
    if form.is_valid():
        try:
            services.lead_followup_submit(lead=lead, actor=request.user, **form.cleaned_data)
            write_form = None
        except (ValidationError, ApprovalError) as exc:
            error = " ".join(_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(lead.get_absolute_url())
    context = _detail_context(request, lead, write_form=write_form, followup_error=error)
    status = 422 if (write_form and write_form.errors) or error else 200
    return render(request, "leads/detail.html#followup", context, status=status)


# --- imports ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("leads.view_leadimport", raise_exception=True)
def imports(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = UploadForm()
    if request.method == "POST":
        require_permission(request.user, IMPORT_PERMISSION, message="You may not import leads.")
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > app_settings.IMPORT_MAX_BYTES:
                form.add_error("file", f"The file is larger than {app_settings.IMPORT_MAX_BYTES // 1048576} MB.")
            else:
                try:
                    imp = services.lead_import_create(file_name=upload.name, data=upload.read(), actor=request.user)
                    return redirect("leads:import_detail", pk=imp.pk)
                except ValidationError as exc:
                    for message in _messages(exc):
                        form.add_error("file", message)
    page = Paginator(selectors.import_list(user=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "leads/imports.html", {"form": form, "page": page}, status=422 if form.errors else 200)


def _import_or_404(request: AuthenticatedHtmxHttpRequest, pk: int) -> LeadImport:
    try:
        return selectors.import_get(user=request.user, pk=pk)
    except LeadImport.DoesNotExist:
        raise Http404("No such import") from None


def _import_context(
    imp: LeadImport, form: MappingForm | None = None, errors: list[str] | None = None
) -> dict[str, Any]:
    context = {"imp": imp, "errors": errors or [], "form": form}
    if imp.status == LeadImport.Status.UPLOADED:
        form = form or MappingForm(lead_import=imp)
        context["form"] = form
        mapping = form.mapping() if form.is_bound and form.is_valid() else imp.mapping
        context["preview"] = services.lead_import_preview(lead_import=imp, mapping=mapping)
        samples = _samples(imp)
        context["columns"] = [(i, h, form[f"col_{i}"], samples[i]) for i, h in enumerate(imp.headers)]
    else:
        context["failures"] = imp.errors.all()[:50]
    return context


def _samples(imp: LeadImport) -> dict[int, list[str]]:
    from leads.csv_parsing import data_rows

    rows = data_rows(imp.content, imp.delimiter, limit=3)
    return {i: [r[i] if i < len(r) else "" for _, r in rows] for i in range(len(imp.headers))}


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("leads.view_leadimport", raise_exception=True)
def import_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: mapping and preview (before the run) or progress and results. POST: start the run."""
    imp = _import_or_404(request, pk)
    if request.method == "POST":
        require_permission(request.user, IMPORT_PERMISSION, imp, message="You may not import leads.")
        form = MappingForm(request.POST, lead_import=imp)
        if form.is_valid():
            try:
                services.lead_import_start(
                    lead_import=imp,
                    actor=request.user,
                    mapping=form.mapping(),
                    update_existing=form.cleaned_data["update_existing"],
                    default_owner=form.cleaned_data["default_owner"],
                )
                return redirect("leads:import_detail", pk=imp.pk)
            except ValidationError as exc:
                imp.refresh_from_db()
                return render(
                    request, "leads/import_detail.html", _import_context(imp, form, _messages(exc)), status=422
                )
        return render(request, "leads/import_detail.html", _import_context(imp, form), status=422)
    return render(request, "leads/import_detail.html", _import_context(imp))


@require_POST
@login_required
@permission_required("leads.add_leadimport", raise_exception=True)
def import_preview(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    imp = _import_or_404(request, pk)
    if imp.status != LeadImport.Status.UPLOADED:
        raise Http404
    form = MappingForm(request.POST, lead_import=imp)
    errors: list[str] = []
    if form.is_valid():
        try:
            from leads.csv_parsing import validate_mapping

            validate_mapping(form.mapping(), imp.headers)
        except ValidationError as exc:
            errors = _messages(exc)
    return render(request, "leads/import_detail.html#preview", _import_context(imp, form, errors))


@require_GET
@login_required
@permission_required("leads.view_leadimport", raise_exception=True)
def import_progress(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    imp = _import_or_404(request, pk)
    return render(request, "leads/import_detail.html#progress", _import_context(imp))


@require_GET
@login_required
@permission_required("leads.view_leadimport", raise_exception=True)
def import_errors_csv(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    imp = _import_or_404(request, pk)
    response = HttpResponse(services.lead_import_error_report(lead_import=imp), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{imp.pk}-errors.csv"'
    return response


# --- scoring settings ---------------------------------------------------------------------------


def _scoring_context(request: AuthenticatedHtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    overview = selectors.scoring_overview()
    active = overview["active"]
    return {
        **overview,
        "open_leads": sum(n for _, n in overview["tiers"]),
        "rule_form": extra.pop("rule_form", None) or RuleForm(),
        "train_form": TrainForm(current=features_of(active.params) if active else None),
        "acceptance": selectors.followup_acceptance(),
        "weight": app_settings.MODEL_WEIGHT,
        "weight_pct": round(app_settings.MODEL_WEIGHT * 100),
        "rules_pct": 100 - round(app_settings.MODEL_WEIGHT * 100),
        "thresholds": app_settings.TIER_THRESHOLDS,
        "min_training": app_settings.MIN_TRAINING_LEADS,
        **extra,
    }


@require_GET
@login_required
@permission_required("leads.view_scoringrule", raise_exception=True)
def scoring(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    return render(request, "leads/scoring.html", _scoring_context(request))


@require_POST
@login_required
@permission_required("leads.add_scoringrule", raise_exception=True)
def rule_add(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = RuleForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.scoring_rule_save(data=form.data_for_service(), actor=request.user)
            form = RuleForm()
        except ValidationError as exc:
            for item in error_items(exc):
                form.add_error(item.field if item.field in form.fields else None, item.message)
            status = 422
    else:
        status = 422
    template = "leads/scoring.html#rules" if request.htmx else "leads/scoring.html"
    return render(request, template, _scoring_context(request, rule_form=form), status=status)


@require_POST
@login_required
@permission_required("leads.change_scoringrule", raise_exception=True)
def rule_toggle(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ScoringRule, pk=pk)
    services.scoring_rule_save(rule=rule, data={"active": not rule.active}, actor=request.user)
    return _rules_response(request)


@require_POST
@login_required
@permission_required("leads.delete_scoringrule", raise_exception=True)
def rule_delete(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    services.scoring_rule_delete(rule=get_object_or_404(ScoringRule, pk=pk), actor=request.user)
    return _rules_response(request)


def _rules_response(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("leads:scoring")
    return render(request, "leads/scoring.html#rules", _scoring_context(request))


@require_POST
@login_required
@permission_required("leads.train_scoringmodel", raise_exception=True)
def train(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Queue training on the chosen fields; the models table shows the new version when it is done."""
    from leads.tasks import scoring_model_train_task

    active = ScoringModel.objects.filter(active=True).first()
    form = TrainForm(request.POST, current=features_of(active.params) if active else None)
    notice = ""
    if form.is_valid():
        notice = _not_enough_data()
        if not notice:
            chosen = form.chosen()
            scoring_model_train_task.delay_on_commit(request.user.pk, [f.to_dict() for f in chosen] if chosen else None)
            notice = "Training started: the new version appears below when it is done, and every lead is rescored."
    if not request.htmx:
        messages.info(request, notice)
        return redirect("leads:scoring")
    return render(request, "leads/scoring.html#models", _scoring_context(request, notice=notice))


def _not_enough_data() -> str:
    """Why training would not run now, or "" (the task re-checks, the per-outcome minimum too)."""
    from leads.training import training_set

    data = training_set()
    minimum = app_settings.MIN_TRAINING_LEADS
    if len(data.ids) < minimum:
        return (
            f"Not trained: {len(data.ids)} won, lost or overridden leads so far; the model needs {minimum}. "
            "Scores come from the rules until then."
        )
    return ""


@require_POST
@login_required
@permission_required("leads.train_scoringmodel", raise_exception=True)
def model_activate(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(ScoringModel, pk=pk)
    services.scoring_model_activate(model=model, actor=request.user)
    notice = f"Model v{model.version} now scores every lead."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("leads:scoring")
    return render(request, "leads/scoring.html#models", _scoring_context(request, notice=notice))

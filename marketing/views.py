"""The marketing UI (campaign builder, results, segments) and the public tracking endpoints.

Staff pages are HTMX function views: one template per page, HTMX requests render a partial
(``"page.html#part"``). Tracking endpoints are public and answer 404 to any token that does
not verify, recording nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hitl_crm.errors import InvalidState
from hitl_crm.types import AuthenticatedHtmxHttpRequest
from hitl_crm.validation import error_messages
from marketing import services, tokens
from marketing.conf import app_settings
from marketing.delivery import with_ref
from marketing.forms import (
    AudienceForm,
    CampaignForm,
    GenerateForm,
    SegmentForm,
    VariantForm,
    WinnerForm,
    field_choices,
    rule_rows,
    rules_from_post,
)
from marketing.models import Campaign, Segment, Send, Variant
from marketing.segments import normalise_rules
from marketing.selectors import (
    campaign_daily,
    campaign_get,
    campaign_list,
    campaign_list_stats,
    campaign_plan_preview,
    campaign_progress,
    campaign_requests,
    campaign_results,
    open_request,
    segment_counts,
    segment_list,
    segment_preview,
    shortlisted,
    variant_labels,
)

PER_PAGE = 25
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
STATUS_FILTERS = {
    "in_review": [Campaign.Status.IN_REVIEW],
    "running": [Campaign.Status.SCHEDULED, Campaign.Status.SENDING, Campaign.Status.TESTING],
    "draft": [Campaign.Status.DRAFT, Campaign.Status.VARIANTS_APPROVED],
    "done": [Campaign.Status.SENT, Campaign.Status.CANCELLED],
}


def _messages_of(exc: ValidationError | InvalidState) -> list[str]:
    if isinstance(exc, InvalidState):
        return [str(exc)]
    return error_messages(exc)


def _campaign(request: AuthenticatedHtmxHttpRequest, pk: int) -> Campaign:
    try:
        return campaign_get(user=request.user, pk=pk)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign") from None


# --- campaigns -------------------------------------------------------------------------------


@require_GET
@login_required
@permission_required("marketing.view_campaign", raise_exception=True)
def campaigns(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = campaign_list(user=request.user)
    if status in STATUS_FILTERS:
        qs = qs.filter(status__in=STATUS_FILTERS[status])
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    stats = campaign_list_stats(list(page.object_list))
    rows = [(c, stats[c.pk]) for c in page.object_list]
    return render(
        request,
        "marketing/campaign_list.html",
        {"page": page, "rows": rows, "status": status, "filters": STATUS_FILTERS},
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("marketing.add_campaign", raise_exception=True)
def campaign_create(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, initial={"copy_kind": Campaign.CopyKind.SUBJECT})
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, **form.cleaned_data)
        except (ValidationError, InvalidState) as exc:
            for message in _messages_of(exc):
                form.add_error(None, message)
        else:
            return redirect(campaign.get_absolute_url())
    return render(request, "marketing/campaign_new.html", {"form": form})


def _detail_context(request: AuthenticatedHtmxHttpRequest, campaign: Campaign, **extra: Any) -> dict[str, Any]:
    variants = list(campaign.variants.select_related("ai_run").order_by("status", "id"))
    chosen = [v for v in variants if v.status == Variant.Status.APPROVED]
    labels = variant_labels(chosen)
    context = {
        "campaign": campaign,
        "variants": variants,
        "labels": labels,
        "shortlist": chosen,
        "editable": campaign.status == Campaign.Status.DRAFT,
        "brief_form": CampaignForm(initial={f: getattr(campaign, f) for f in CampaignForm.base_fields}),
        "generate_form": GenerateForm(),
        "variant_form": VariantForm(),
        "audience_form": AudienceForm(
            initial=AudienceForm.initial_for(campaign), segments=segment_list(user=request.user)
        ),
        "preview": campaign_plan_preview(campaign)
        if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.VARIANTS_APPROVED)
        else None,
        "open_request": open_request(campaign),
        "requests": campaign_requests(campaign),
        "progress": campaign_progress(campaign),
        "max_variants": app_settings.MAX_VARIANTS,
    }
    context.update(extra)
    return context


@require_GET
@login_required
@permission_required("marketing.view_campaign", raise_exception=True)
@vary_on_headers("HX-Request")
def campaign_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    template = "marketing/campaign_detail.html#progress" if request.htmx else "marketing/campaign_detail.html"
    return render(request, template, _detail_context(request, campaign))


def _partial(request: AuthenticatedHtmxHttpRequest, campaign: Campaign, part: str, **extra: Any) -> HttpResponse:
    campaign = _campaign(request, campaign.pk)
    if request.htmx:
        return render(request, f"marketing/campaign_detail.html#{part}", _detail_context(request, campaign, **extra))
    for error in extra.get("errors", []):
        messages.error(request, error)
    return redirect(campaign.get_absolute_url())


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_edit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = CampaignForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            campaign = services.campaign_update(campaign=campaign, actor=request.user, data=form.cleaned_data)
            if not request.htmx:
                messages.success(request, "Brief saved.")
        except (ValidationError, InvalidState) as exc:
            errors = _messages_of(exc)
    else:
        errors = [f"{name}: {'; '.join(str(m) for m in e)}" for name, e in form.errors.items()]
    return _partial(request, campaign, "brief", errors=errors, saved=not errors)


@require_POST
@login_required
@permission_required("marketing.add_variant", raise_exception=True)
def campaign_generate(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = GenerateForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            created, result = services.campaign_generate_variants(
                campaign=campaign, actor=request.user, n=form.cleaned_data["n"]
            )
            if not result.ok:
                errors.append(f"The AI could not write variants ({result.error}). Write your own below.")
            elif not created:
                errors.append("The AI found nothing to write about in this brief. Add detail, or write your own.")
        except (ValidationError, InvalidState) as exc:
            errors = _messages_of(exc)
    else:
        errors = ["Ask for 1 to 12 variants."]
    return _partial(request, campaign, "variants", errors=errors)


@require_POST
@login_required
@permission_required("marketing.add_variant", raise_exception=True)
def variant_add(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = VariantForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.variant_create(campaign=campaign, actor=request.user, **form.cleaned_data)
        except (ValidationError, InvalidState) as exc:
            errors = _messages_of(exc)
    else:
        errors = [f"{name}: {'; '.join(str(m) for m in e)}" for name, e in form.errors.items()]
    return _partial(request, campaign, "variants", errors=errors)


@require_POST
@login_required
@permission_required("marketing.change_variant", raise_exception=True)
def variant_edit(request: AuthenticatedHtmxHttpRequest, pk: int, variant_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    variant = get_object_or_404(Variant, pk=variant_pk, campaign=campaign)
    form = VariantForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.variant_update(variant=variant, actor=request.user, data=form.cleaned_data)
        except (ValidationError, InvalidState) as exc:
            errors = _messages_of(exc)
    else:
        errors = [f"{name}: {'; '.join(str(m) for m in e)}" for name, e in form.errors.items()]
    return _partial(request, campaign, "variants", errors=errors)


@require_POST
@login_required
@permission_required("marketing.change_variant", raise_exception=True)
def variant_status(request: AuthenticatedHtmxHttpRequest, pk: int, variant_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    variant = get_object_or_404(Variant, pk=variant_pk, campaign=campaign)
    errors: list[str] = []
    try:
        services.variant_set_status(variant=variant, actor=request.user, status=request.POST.get("status", ""))
    except (ValidationError, InvalidState) as exc:
        errors = _messages_of(exc)
    return _partial(request, campaign, "variants", errors=errors)


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_audience(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = AudienceForm(request.POST, segments=segment_list(user=request.user))
    errors: list[str] = []
    if form.is_valid():
        try:
            campaign = services.campaign_update(campaign=campaign, actor=request.user, data=form.campaign_data())
        except (ValidationError, InvalidState) as exc:
            errors = _messages_of(exc)
    else:
        errors = [
            f"{form.fields[name].label if name in form.fields else ''}: {'; '.join(str(m) for m in e)}".lstrip(": ")
            for name, e in form.errors.items()
        ]
    if request.htmx:
        context = _detail_context(request, _campaign(request, pk), errors=errors)
        if errors:
            context["audience_form"] = form
        return render(request, "marketing/campaign_detail.html#audience", context)
    for error in errors:
        messages.error(request, error)
    return redirect(campaign.get_absolute_url())


def _transition(
    request: AuthenticatedHtmxHttpRequest, pk: int, action: Callable[..., Any], success: str
) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        action(campaign=campaign, actor=request.user)
    except (ValidationError, InvalidState) as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect(campaign.get_absolute_url())


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_lock(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    return _transition(
        request,
        pk,
        services.campaign_lock_variants,
        "Shortlisted. Choose the audience and submit the campaign for approval.",
    )


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_unlock(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    return _transition(request, pk, services.campaign_unlock_variants, "Back to editing the variants.")


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_submit(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    return _transition(
        request,
        pk,
        services.campaign_submit,
        "Submitted. Nothing is sent until a colleague approves it in the review queue.",
    )


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_cancel(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    return _transition(request, pk, services.campaign_cancel, "Campaign cancelled. Nothing more will be sent.")


# --- results ---------------------------------------------------------------------------------


def _winner_form(campaign: Campaign, results: dict[str, Any], data: Any = None) -> WinnerForm:
    labels = variant_labels(shortlisted(campaign))
    choices = [(r.variant.pk, f"{r.label}: {r.variant.subject}") for r in results["variants"] if r.variant.pk in labels]
    suggested = results["suggested"].pk if results["suggested"] else None
    return WinnerForm(data, choices=choices, initial={"variant": suggested})


def _results_context(campaign: Campaign) -> dict[str, Any]:
    results = campaign_results(campaign)
    request_open = open_request(campaign)
    return {
        "campaign": campaign,
        "results": results,
        "daily": campaign_daily(campaign),
        "progress": campaign_progress(campaign),
        "open_request": request_open,
        "winner_form": _winner_form(campaign, results),
        "can_pick_winner": campaign.status == Campaign.Status.TESTING and results["remainder"] and not request_open,
        "live": campaign.status in (Campaign.Status.SENDING, Campaign.Status.SCHEDULED),
    }


@require_GET
@login_required
@permission_required("marketing.view_campaign", raise_exception=True)
@vary_on_headers("HX-Request")
def campaign_results_view(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    template = "marketing/campaign_results.html#results" if request.htmx else "marketing/campaign_results.html"
    return render(request, template, _results_context(campaign))


@require_POST
@login_required
@permission_required("marketing.change_campaign", raise_exception=True)
def campaign_winner(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = _winner_form(campaign, campaign_results(campaign), request.POST)
    if form.is_valid():
        variant = get_object_or_404(Variant, pk=form.cleaned_data["variant"], campaign=campaign)
        try:
            services.campaign_confirm_winner(campaign=campaign, actor=request.user, variant=variant)
        except (ValidationError, InvalidState) as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
        else:
            messages.success(request, "The winner is waiting for approval. It goes to the rest once approved.")
    else:
        messages.error(request, "Pick one of the tested variants.")
    return redirect("marketing:campaign_results", pk=campaign.pk)


# --- segments --------------------------------------------------------------------------------


@require_GET
@login_required
@permission_required("marketing.view_segment", raise_exception=True)
def segments(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    # Each row fetches its own live count after the page shows (one fast query each, ~50 ms at
    # 100,000 contacts), so the list itself costs the same few queries however many segments exist.
    page = Paginator(segment_list(user=request.user), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "marketing/segment_list.html", {"page": page})


@require_GET
@login_required
@permission_required("marketing.view_segment", raise_exception=True)
def segment_size(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    """Matching and reachable counts of one saved segment (loaded by the list, HTMX)."""
    segment = get_object_or_404(segment_list(user=request.user), pk=pk)
    counts = (
        segment_counts(rules=normalise_rules(segment.rules)) if request.user.has_perm("contacts.view_contact") else None
    )
    return render(request, "marketing/segment_list.html#size", {"s": segment, "counts": counts})


def _count_context(request: AuthenticatedHtmxHttpRequest, raw_rules: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        rules = normalise_rules(raw_rules)
    except ValidationError as exc:
        return {"rule_errors": _messages_of(exc), "counts": None, "preview": []}
    return {
        "rule_errors": [],
        "counts": segment_counts(rules=rules),
        "preview": segment_preview(user=request.user, rules=rules),
    }


def _segment_page(
    request: AuthenticatedHtmxHttpRequest,
    segment: Segment | None,
    form: SegmentForm,
    raw_rules: list[dict[str, Any]],
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "segment": segment,
        "form": form,
        "rows": rule_rows(raw_rules, extra=0 if raw_rules else 1),
        "field_choices": field_choices(),
        "can_edit": request.user.has_perm("marketing.change_segment" if segment else "marketing.add_segment"),
        **_count_context(request, raw_rules),
        **extra,
    }
    return render(request, "marketing/segment_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("marketing.add_segment", raise_exception=True)
def segment_create(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    form = SegmentForm(request.POST or None)
    raw = rules_from_post(request.POST) if request.method == "POST" else []
    if request.method == "POST" and form.is_valid():
        try:
            segment = services.segment_create(actor=request.user, rules=raw, **form.cleaned_data)
        except (ValidationError, InvalidState) as exc:
            return _segment_page(request, None, form, raw, status=400, save_errors=_messages_of(exc))
        messages.success(request, f"Segment “{segment.name}” saved.")
        return redirect(segment.get_absolute_url())
    return _segment_page(request, None, form, raw)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("marketing.view_segment", raise_exception=True)
def segment_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(segment_list(user=request.user), pk=pk)
    if request.method == "POST":
        if not request.user.has_perm("marketing.change_segment"):
            raise Http404
        form = SegmentForm(request.POST)
        raw = rules_from_post(request.POST)
        if form.is_valid():
            try:
                services.segment_update(segment=segment, actor=request.user, data={**form.cleaned_data, "rules": raw})
            except (ValidationError, InvalidState) as exc:
                return _segment_page(request, segment, form, raw, status=400, save_errors=_messages_of(exc))
            messages.success(request, "Segment saved.")
            return redirect(segment.get_absolute_url())
        return _segment_page(request, segment, form, raw, status=400)
    form = SegmentForm(initial={"name": segment.name, "description": segment.description})
    return _segment_page(request, segment, form, list(segment.rules))


@require_POST
@login_required
@permission_required("marketing.view_segment", raise_exception=True)
def segment_count(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Live count and preview for the rules being edited (HTMX)."""
    return render(request, "marketing/segment_form.html#count", _count_context(request, rules_from_post(request.POST)))


@require_POST
@login_required
@permission_required("marketing.view_segment", raise_exception=True)
def segment_rules(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Re-render the rule rows: add a row, remove one, or adapt the operators to a new field (HTMX)."""
    remove = request.POST.get("remove", "")
    raw = rules_from_post(request.POST, keep_empty=True, drop=int(remove) if remove.isdigit() else None)
    rows = rule_rows(raw, extra=1 if request.POST.get("add") or not raw else 0)
    return render(request, "marketing/segment_form.html#rules", {"rows": rows, "field_choices": field_choices()})


@require_POST
@login_required
@permission_required("marketing.delete_segment", raise_exception=True)
def segment_delete(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(segment_list(user=request.user), pk=pk)
    try:
        services.segment_delete(segment=segment, actor=request.user)
    except (ValidationError, InvalidState) as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
        return redirect(segment.get_absolute_url())
    messages.success(request, "Segment deleted.")
    return redirect("marketing:segments")


# --- public: tracking and unsubscribe ---------------------------------------------------------


def _read(kind: str, token: str) -> dict[str, Any]:
    payload = tokens.read_token(kind, token)
    if payload is None:
        raise Http404("Unknown link")
    return payload


@require_GET
@never_cache
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    """The 1×1 open pixel: notes the first open of a sent email."""
    payload = _read(tokens.OPEN, token)
    services.send_record_open(send_id=payload["s"])
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@require_GET
@never_cache
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to a link of the approved email (and note the click); anything else is a 404."""
    payload = _read(tokens.CLICK, token)
    url = services.send_record_click(send_id=payload["s"], url=payload["u"])
    if url is None:
        raise Http404("Unknown link")
    return HttpResponseRedirect(with_ref(url, payload["s"]))


@csrf_exempt  # mail clients POST here without a session (RFC 8058); the signed token is the authority
@require_http_methods(["GET", "POST"])
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST unsubscribes.

    A one-click POST (``List-Unsubscribe=One-Click``) from a mail client unsubscribes directly.
    """
    payload = _read(tokens.UNSUBSCRIBE, token)
    send = Send.objects.select_related("campaign", "contact").filter(pk=payload["s"]).first()
    if send is None:
        raise Http404("Unknown link")
    done = False
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        services.send_unsubscribe(send_id=send.pk, source="one-click" if one_click else "link")
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        done = True
    return render(
        request,
        "marketing/public/unsubscribe.html",
        {
            "send": send,
            "done": done,
            "action": reverse("marketing:unsubscribe", args=[token]),
            "company": getattr(settings, "HITL_CRM_COMPANY_NAME", ""),
        },
    )

"""The "possibly sent" page: a person decides what happens to an effect whose outcome is unknown."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from hitl_crm.delivery.selectors import deliveries_needing_a_person
from hitl_crm.delivery.services import (
    RESOLVE_PERMISSION,
    DeliveryStateError,
    delivery_mark_sent,
    delivery_send_again,
)


def _ensure_permission(request: HttpRequest) -> None:
    if not request.user.has_perm(RESOLVE_PERMISSION):
        raise PermissionDenied("You may not decide on deliveries.")


@require_GET
@login_required
def delivery_list(request: HttpRequest) -> HttpResponse:
    _ensure_permission(request)
    deliveries = deliveries_needing_a_person(user=request.user)[:200]
    return render(request, "delivery/list.html", {"deliveries": deliveries})


def _resolve(request: HttpRequest, pk: int, action) -> HttpResponse:
    _ensure_permission(request)
    delivery = get_object_or_404(deliveries_needing_a_person(user=request.user), pk=pk)
    try:
        delivery = action(delivery_id=delivery.pk, actor=request.user)
    except DeliveryStateError as exc:
        messages.warning(request, str(exc))
    else:
        done = "queued to be sent again" if delivery.state == delivery.State.PREPARED else "marked as sent"
        messages.success(request, f"{delivery.get_kind_display()} to {delivery.recipient}: {done}.")
    if getattr(request, "htmx", False):
        delivery.refresh_from_db()
        return render(request, "delivery/list.html#row", {"delivery": delivery})
    return redirect("delivery:list")


@require_POST
@login_required
def send_again(request: HttpRequest, pk: int) -> HttpResponse:
    return _resolve(request, pk, delivery_send_again)


@require_POST
@login_required
def mark_sent(request: HttpRequest, pk: int) -> HttpResponse:
    return _resolve(request, pk, delivery_mark_sent)

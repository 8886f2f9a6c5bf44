"""Reads of the delivery kernel, filtered by what the user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from hitl_crm.delivery.models import Delivery
from hitl_crm.delivery.services import RESOLVE_PERMISSION


def deliveries_needing_a_person(*, user) -> QuerySet[Delivery]:
    """Deliveries in ``unknown`` (possibly sent) or ``failed`` state, for those who may decide on them."""
    if not (user.is_active and user.has_perm(RESOLVE_PERMISSION)):
        return Delivery.objects.none()
    return Delivery.objects.filter(state__in=(Delivery.State.UNKNOWN, Delivery.State.FAILED)).select_related(
        "resolved_by"
    )


def delivery_for_key(*, key: str) -> Delivery | None:
    """The delivery of one execution key (an approval's effect), if any."""
    if not key:
        return None
    return Delivery.objects.filter(key=key).first()

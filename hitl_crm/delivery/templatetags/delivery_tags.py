from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from hitl_crm.delivery.selectors import delivery_for_key
from hitl_crm.delivery.services import RESOLVE_PERMISSION

register = template.Library()


@register.inclusion_tag("delivery/notice.html", takes_context=True)
def delivery_notice(context: dict[str, Any], execution_key: str) -> dict[str, Any]:
    """A small notice for the delivery of an execution key: "possibly sent", with a link for those who decide."""
    request = context.get("request")
    user = getattr(request, "user", None)
    list_url = None
    if user is not None and user.has_perm(RESOLVE_PERMISSION):
        try:
            list_url = reverse("delivery:list")
        except NoReverseMatch:  # a site that does not route to the page
            list_url = None
    return {"delivery": delivery_for_key(key=execution_key), "list_url": list_url}

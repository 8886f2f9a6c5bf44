from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


_CONFIDENCE_FILL = {"high": "#0f8a5f", "mid": "#e0a82d", "low": "#c2312f"}


@register.simple_tag
def confidence_meter(value: float | None) -> SafeString:
    """A small bar with the percentage; colour says whether to trust it.

    Server-rendered SVG: the width is an SVG attribute, not an inline style, so the strict CSP holds.
    """
    if value is None:
        return format_html('<span class="muted">{}</span>', "—")
    percent = max(0, min(100, round(value * 100)))
    level = "high" if value >= 0.8 else "mid" if value >= 0.5 else "low"
    return format_html(
        '<svg class="confidence-bar {}" width="70" height="7" viewBox="0 0 100 10" preserveAspectRatio="none" '
        'role="img" aria-label="AI confidence {}%"><title>AI confidence</title>'
        '<rect width="100" height="10" rx="4" fill="#eceef5"></rect>'
        '<rect class="confidence-fill" width="{}" height="10" rx="4" fill="{}"></rect></svg> {}%',
        level,
        percent,
        percent,
        _CONFIDENCE_FILL[level],
        percent,
    )


@register.simple_tag
def highlight(text: str, span: str | None) -> SafeString:
    """``text`` with the first occurrence of ``span`` marked; both escaped."""
    text = str(text or "")
    if not span or span not in text:
        return format_html("{}", text)
    before, _, after = text.partition(span)
    return format_html("{}<mark>{}</mark>{}", before, span, after)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.simple_tag
def due_label(due_at, now=None) -> SafeString:
    if due_at is None:
        return format_html('<span class="muted">{}</span>', "no deadline")
    now = now or timezone.now()
    delta = due_at - now
    minutes = int(abs(delta.total_seconds()) // 60)
    text = f"{minutes // 1440} d" if minutes >= 1440 else f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"
    if delta.total_seconds() < 0:
        return format_html('<span class="overdue" title="{}">overdue {}</span>', due_at, text)
    return format_html('<span title="{}">in {}</span>', due_at, text)


@register.inclusion_tag("approvals/_feedback.html")
def approval_feedback(subject: Any) -> dict[str, Any]:
    """Reviewers' change requests about ``subject`` (a case, a lead…), for its own page."""
    from approvals.selectors import approval_feedback_for_subject

    return {"feedback": approval_feedback_for_subject(subject=subject)}


@register.filter
def status_word(req: Any) -> str:
    """What happened to a request, in the words people use: "Sent" for a message or campaign that was
    carried out, "Refunded" for a refund (an action named ``….issue_refund``, ``….refund``); other
    statuses keep their display name."""
    status = getattr(req, "status", "")
    name = str(getattr(req, "action", "")).rsplit(".", 1)[-1]
    refund = "refund" in name
    if status == "executed":
        return "Refunded" if refund else "Sent"
    if status == "executing":
        return "Refunding" if refund else "Sending"
    display = getattr(req, "get_status_display", None)
    return str(display()) if callable(display) else str(status).capitalize()

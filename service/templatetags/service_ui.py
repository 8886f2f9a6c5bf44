"""Small pieces of the service desk UI. Everything is escaped with ``format_html``."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from service.conf import app_settings

register = template.Library()


def _span(minutes: int) -> str:
    if minutes >= 1440:
        return f"{minutes // 1440} d {minutes % 1440 // 60} h" if minutes < 2880 else f"{minutes // 1440} d"
    if minutes >= 60:
        return f"{minutes // 60} h"
    return f"{minutes} min"


@register.simple_tag
def sla_age(waiting_since: datetime | None, now: datetime | None = None) -> SafeString:
    """How long the customer has waited for an answer; red once past the SLA."""
    if waiting_since is None:
        return format_html('<span class="muted" title="{}">{}</span>', "Nobody is waiting for us", "answered")
    now = now or timezone.now()
    minutes = max(0, int((now - waiting_since).total_seconds() // 60))
    overdue = minutes >= app_settings.SLA_HOURS * 60
    return format_html(
        '<span class="{}" title="Waiting since {}; target {} h">{}</span>',
        "sla overdue" if overdue else "sla",
        waiting_since.strftime("%Y-%m-%d %H:%M"),
        app_settings.SLA_HOURS,
        _span(minutes),
    )


@register.simple_tag
def sentiment_badge(score: float | None) -> SafeString:
    if score is None:
        return format_html('<span class="pill pill-muted">{}</span>', "—")
    if score <= app_settings.UPSET_BELOW:
        css, label = "pill-critical", "upset"
    elif score < -0.05:
        css, label = "pill-high", "negative"
    elif score >= 0.05:
        css, label = "pill-ok", "positive"
    else:
        css, label = "pill-muted", "neutral"
    return format_html('<span class="pill {}" title="Sentiment {}">{}</span>', css, f"{score:+.2f}", label)


@register.simple_tag
def confidence(value: float | None) -> SafeString:
    """A native <meter> (no inline style, so the strict CSP holds) with the percentage."""
    if value is None:
        return format_html('<span class="muted">{}</span>', "—")
    percent = round(value * 100)
    return format_html(
        '<meter class="confidence" min="0" max="100" low="50" high="80" optimum="100" value="{}" '
        'title="AI confidence">{}%</meter> {}%',
        percent,
        percent,
        percent,
    )


@register.filter
def label(value: str) -> str:
    return (value or "").replace("_", " ")

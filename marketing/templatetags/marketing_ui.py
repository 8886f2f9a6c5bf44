"""Template helpers for marketing pages: status pills, percentages, score badges and the
rates-with-intervals chart (server-rendered SVG in the product's one chart style)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

_STATUS_PILL = {
    "draft": "muted",
    "variants_approved": "pending",
    "in_review": "pending",
    "scheduled": "approved",
    "sending": "approved",
    "testing": "medium",
    "sent": "ok",
    "cancelled": "muted",
}
WIDTH, ROW, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 640, 34, 44, 16, 6, 22


@register.simple_tag
def campaign_status(campaign: Any) -> SafeString:
    return format_html(
        '<span class="pill pill-{}">{}</span>',
        _STATUS_PILL.get(campaign.status, "muted"),
        _STATUS_WORDS.get(campaign.status) or campaign.get_status_display(),
    )


# What a status means to the marketer, where the stored label says less.
_STATUS_WORDS = {"variants_approved": "Shortlisted"}


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """0.0312 → "3.1%"."""
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.simple_tag
def percent(part: int, whole: int, digits: int = 1) -> str:
    return f"{part / whole * 100:.{digits}f}%" if whole else "—"


@register.filter
def describe_rules(rules: Any) -> str:
    """A segment's rules in words ("Everyone" when there are none)."""
    from marketing.segments import describe_rule

    try:
        return " · ".join(describe_rule(rule) for rule in rules or []) or "Everyone"
    except (KeyError, TypeError, ValueError):
        return "(rules need attention)"


@register.simple_tag
def variant_label(labels: dict[int, str], pk: int) -> str:
    return labels.get(pk, "")


@register.simple_tag
def scores_of(contact: Any) -> dict[str, Any]:
    """``{"churn": ContactScore, "propensity": ContactScore}`` from a prefetched ``score_list``."""
    return {s.kind: s for s in getattr(contact, "score_list", [])}


@register.simple_tag
def score_badge(score: Any, kind: str = "churn") -> SafeString:
    """A coloured pill with the score; its title lists the factors behind it."""
    if not score:  # no score yet (a missing key renders as "")
        return format_html('<span class="muted">{}</span>', "—")
    band = score.band
    css = {
        "churn": {"high": "high", "medium": "medium", "low": "low"},
        "propensity": {"high": "ok", "medium": "medium", "low": "muted"},
    }[kind][band]
    why = "; ".join(
        f"{f.get('feature')}{' = ' + str(f.get('value')) if f.get('value') not in (None, '') else ''} "
        f"({'raises' if f.get('effect', 0) > 0 else 'lowers'} it)"
        for f in (score.factors or [])
    )
    return format_html(
        '<span class="pill pill-{} mk-score" title="{}">{} {}</span>',
        css,
        why or "No factors recorded",
        band,
        f"{score.value:.2f}",
    )


def _nice_top(value: float) -> float:
    for top in (0.01, 0.02, 0.04, 0.1, 0.2, 0.4, 0.8, 1.0):  # quarter ticks stay round
        if value <= top:
            return top
    return 1.0


@register.simple_tag
def rate_interval_chart(results: Sequence[Any]) -> SafeString:
    """Horizontal bars (rate) with whiskers (95 % Wilson interval), one row per variant.

    ``results`` items need ``label``, ``rate``, ``low``, ``high``, ``sent``, ``successes``.
    """
    rows = [r for r in results if r.sent]
    if not rows:
        return format_html('<p class="muted">{}</p>', "No test results yet.")
    top = _nice_top(max(r.high for r in rows) * 1.05)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    height = PAD_TOP + ROW * len(rows) + PAD_BOTTOM

    def x(value: float) -> float:
        return round(PAD_LEFT + plot_w * min(value, top) / top, 1)

    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (x(top * f), x(top * f), PAD_TOP, height - PAD_BOTTOM, x(top * f), height - 6, f"{top * f * 100:g}%")
            for f in (0, 0.25, 0.5, 0.75, 1)
        ),
    )
    bars = []
    for i, r in enumerate(rows):
        y = PAD_TOP + i * ROW
        mid = y + ROW / 2
        bars.append(
            format_html(
                '<g class="mk-row"><text class="axis mk-row-label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} of {} = {} (95% CI {}–{})</title></rect>"
                '<line class="whisker" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<line class="whisker" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<line class="whisker" x1="{}" x2="{}" y1="{}" y2="{}"/></g>',
                PAD_LEFT - 8,
                mid + 4,
                r.label,
                PAD_LEFT,
                y + 8,
                round(x(r.rate) - PAD_LEFT, 1),
                ROW - 16,
                r.label,
                r.successes,
                r.sent,
                pct(r.rate),
                pct(r.low),
                pct(r.high),
                x(r.low),
                x(r.high),
                mid,
                mid,
                x(r.low),
                x(r.low),
                mid - 6,
                mid + 6,
                x(r.high),
                x(r.high),
                mid - 6,
                mid + 6,
            )
        )
    return format_html(
        '<svg class="chart mk-intervals" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}</svg>',
        WIDTH,
        height,
        "Rates per variant with 95% confidence intervals",
        grid,
        format_html_join("", "{}", ((b,) for b in bars)),
    )


@register.simple_tag
def preview_recipient(payload: Any) -> Any:
    """The first planned recipient of the phase being approved, for a personalised preview (None: nobody yet)."""
    from marketing.models import Send

    if not isinstance(payload, dict) or not payload.get("campaign_id"):
        return None
    send = (
        Send.objects.filter(campaign_id=payload["campaign_id"], phase=payload.get("phase") or Send.Phase.TEST)
        .select_related("contact")
        .order_by("pk")
        .first()
    )
    return send.contact if send else None


@register.filter
def personalised(text: Any, contact: Any) -> str:
    """The text as ``contact`` will read it ("Hi {first_name}" → "Hi Dana")."""
    from marketing.delivery import personalise

    return personalise(str(text or ""), contact) if contact is not None else str(text or "")


@register.filter
def variant_origin(variant: Any) -> str:
    """Who wrote a variant: "AI", "AI, edited" once a person changed the AI's words, or "Own words"."""
    if variant.origin != "ai":
        return "Own words"
    return "AI, edited" if _edited_by_a_person(variant) else "AI"


def _edited_by_a_person(variant: Any) -> bool:
    run, campaign = variant.ai_run, variant.campaign
    if run is None or variant.preheader:
        return bool(variant.preheader)
    texts = [" ".join(str(item.get("text", "")).split()) for item in (run.output or {}).get("variants", [])]
    body = campaign.default_body.strip() or campaign.brief
    if campaign.copy_kind == "ad":
        return variant.subject != campaign.name[:150] or variant.body not in {f"{t}\n\n{body}" for t in texts}
    return variant.subject not in {t[:150] for t in texts} or variant.body != body

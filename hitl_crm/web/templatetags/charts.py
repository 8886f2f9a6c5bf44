"""Server-rendered SVG charts: no script, so they work under a strict CSP and in email.

The one chart style used across the product. Values are escaped; labels come from our data.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 34, 22, 8


# A chart shown at half width keeps its labels readable: bigger axis text (the ``chart-narrow`` CSS
# class), room for it, and at most this many date ticks.
NARROW_PAD_LEFT, NARROW_PAD_BOTTOM, NARROW_PAD_TOP, NARROW_TICKS, TICKS = 58, 34, 16, 4, 6


def _frame(narrow: bool) -> tuple[int, int, int, int]:
    """(left, bottom, top padding, most x-axis ticks) for a full-width or a narrow chart."""
    if narrow:
        return NARROW_PAD_LEFT, NARROW_PAD_BOTTOM, NARROW_PAD_TOP, NARROW_TICKS
    return PAD_LEFT, PAD_BOTTOM, PAD_TOP, TICKS


def _tick_step(count: int, most: int) -> int:
    """Every n-th label, so that no more than ``most`` are shown."""
    return max(1, -(-count // most))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 100_000):
        if value <= step * 4:
            return step * 4 if value > step * 2 else step * 2 if value > step else step
    return value


@register.simple_tag
def bar_chart(
    series: Sequence[tuple[str, float]], unit: str = "", css_class: str = "", narrow: bool = False
) -> SafeString:
    """Vertical bars for ``[(label, value), …]`` with a y-axis, gridlines and hover titles.

    ``narrow``: the chart is shown at about half width (fewer, larger axis labels)."""
    if not series:
        return format_html('<p class="muted">{}</p>', "No data yet.")
    pad_left, pad_bottom, pad_top, most_ticks = _frame(narrow)
    css_class = f"{css_class} chart-narrow".strip() if narrow else css_class
    top = _nice_max(max(v for _, v in series))
    plot_w, plot_h = WIDTH - pad_left, HEIGHT - pad_bottom - pad_top
    slot = plot_w / len(series)
    bar_w = max(2.0, slot * 0.72)
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (pad_left, WIDTH, y, y, pad_left - 4, y + (7 if narrow else 4), f"{top * frac:g}")
            for frac in (0, 0.5, 1)
            for y in [round(pad_top + plot_h * (1 - frac), 1)]
        ),
    )
    bars = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}: {} {}</title></rect>',
        (
            (
                round(pad_left + i * slot + (slot - bar_w) / 2, 1),
                round(pad_top + plot_h - plot_h * value / top, 1),
                round(bar_w, 1),
                round(plot_h * value / top, 1),
                label,
                f"{value:g}",
                unit,
            )
            for i, (label, value) in enumerate(series)
        ),
    )
    step = _tick_step(len(series), most_ticks)
    ticks = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (round(pad_left + i * slot + slot / 2, 1), HEIGHT - 6, label[5:] if len(label) == 10 else label)
            for i, (label, _) in enumerate(series)
            if i % step == 0
        ),
    )
    total = sum(v for _, v in series)
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" aria-label="{} {} in total">{}{}{}</svg>',
        css_class,
        WIDTH,
        HEIGHT,
        f"{total:g}",
        unit,
        grid,
        bars,
        ticks,
    )


@register.simple_tag
def line_chart(
    series: dict[str, Sequence[tuple[str, float | None]]],
    unit: str = "",
    top: float | None = None,
    percent: bool = False,
    narrow: bool = False,
) -> SafeString:
    """Lines for ``{"name": [(label, value|None), …], …}`` sharing one x-axis; a legend names each line.

    ``None`` values leave a gap (a day with nothing decided has no acceptance rate). ``narrow``: the
    chart is shown at about half width (fewer, larger axis labels).
    """
    pad_left, pad_bottom, pad_top, most_ticks = _frame(narrow)
    names = list(series)
    if not names or not any(v is not None for points in series.values() for _, v in points):
        return format_html('<p class="muted">{}</p>', "No data yet.")
    labels = [label for label, _ in series[names[0]]]
    peak = max(v for points in series.values() for _, v in points if v is not None)
    top = top or _nice_max(peak)
    plot_w, plot_h = WIDTH - pad_left, HEIGHT - pad_bottom - pad_top
    step_x = plot_w / max(1, len(labels) - 1)

    def fmt(value: float) -> str:
        return f"{value * 100:.0f}%" if percent else f"{value:g}"

    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (pad_left, WIDTH, y, y, pad_left - 4, y + (7 if narrow else 4), fmt(top * frac))
            for frac in (0, 0.5, 1)
            for y in [round(pad_top + plot_h * (1 - frac), 1)]
        ),
    )
    lines = []
    for index, name in enumerate(names):
        segments: list[list[str]] = []
        current: list[str] = []
        dots = []
        for i, (label, value) in enumerate(series[name]):
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x, y = round(pad_left + i * step_x, 1), round(pad_top + plot_h - plot_h * min(value, top) / top, 1)
            current.append(f"{x},{y}")
            dots.append((x, y, index, name, label, fmt(value), unit))
        if current:
            segments.append(current)
        lines.append(
            format_html_join(
                "", '<polyline class="line s{}" points="{}"/>', ((index, " ".join(seg)) for seg in segments)
            )
        )
        lines.append(
            format_html_join(
                "",
                '<circle class="dot s{}" cx="{}" cy="{}" r="2.5"><title>{} {}: {} {}</title></circle>',
                ((i, x, y, n, lbl, v, u) for x, y, i, n, lbl, v, u in dots),
            )
        )
    step = _tick_step(len(labels), most_ticks)
    ticks = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (round(pad_left + i * step_x, 1), HEIGHT - 6, label[5:] if len(label) == 10 else label)
            for i, label in enumerate(labels)
            if i % step == 0
        ),
    )
    legend = format_html_join("", '<span class="key s{}">{}</span>', ((i, n) for i, n in enumerate(names)))
    return format_html(
        '<div class="chart-wrap"><svg class="chart{}" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}{}</svg>'
        '<div class="legend">{}</div></div>',
        " chart-narrow" if narrow else "",
        WIDTH,
        HEIGHT,
        ", ".join(names),
        grid,
        mark_safe("".join(str(x) for x in lines)),  # noqa: S308 — each part built by format_html_join
        ticks,
        legend,
    )

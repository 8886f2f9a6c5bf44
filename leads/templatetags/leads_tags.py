"""Small presentation helpers for the leads pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def signed(value: Any) -> str:
    """+0.8, −0.5, +15 (a real minus sign, so a column of factors lines up and reads well)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    text = f"{abs(number):g}" if number == int(number) else f"{abs(number):.2f}".rstrip("0").rstrip(".")
    return ("+" if number >= 0 else "\u2212") + text


@register.filter
def percent(value: Any, digits: int = 0) -> str:
    """0.8765 → 88%; None → —."""
    if value in (None, ""):
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def person(user: Any, empty: str = "—") -> str:
    """A user's full name, else their username; ``empty`` for nobody."""
    if user is None or user == "":
        return empty
    return user.get_full_name() or user.get_username()

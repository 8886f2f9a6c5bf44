"""Pills, badges and tier marks are small bold text on a tinted background: each colour pair the
stylesheets define must reach WCAG AA for normal text (contrast ratio of at least 4.5:1)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STYLESHEETS = [
    ROOT / "hitl_crm/web/static/web/app.css",
    ROOT / "leads/static/leads/leads.css",
    ROOT / "service/static/service/service.css",
    ROOT / "marketing/static/marketing/marketing.css",
]
AA_NORMAL_TEXT = 4.5
# Small labels that carry meaning through colour.
LABEL_SELECTOR = re.compile(r"^\.(pill|badge|tier|mk-label)(-[\w-]+)?$")


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour written #rgb or #rrggbb."""
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _rules(css: str) -> list[tuple[list[str], dict[str, str]]]:
    """Top-level and media-nested rules as (selectors, declarations); comments dropped."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        selectors = re.sub(r"^\s*@media[^{]*\{", "", selectors)
        declarations = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                declarations[name.strip()] = value.strip()
        rules.append(([s.strip() for s in selectors.split(",")], declarations))
    return rules


def _custom_properties(rules) -> dict[str, str]:
    props: dict[str, str] = {}
    for selectors, declarations in rules:
        if ":root" in selectors:
            props.update({k: v for k, v in declarations.items() if k.startswith("--")})
    return props


def _resolve(value: str, props: dict[str, str]) -> str | None:
    value = value.strip()
    for _ in range(5):
        match = re.fullmatch(r"var\((--[\w-]+)\)", value)
        if not match:
            break
        value = props[match.group(1)]
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value) else None


def label_colour_pairs() -> dict[str, tuple[str, str]]:
    """Every pill/badge/tier selector with the (text, background) it ends up with."""
    rules = [rule for sheet in STYLESHEETS for rule in _rules(sheet.read_text())]
    props = _custom_properties(rules)
    base: dict[str, dict[str, str]] = {}
    pairs: dict[str, dict[str, str]] = {}
    for selectors, declarations in rules:
        colours = {}
        if "color" in declarations:
            colours["color"] = _resolve(declarations["color"], props)
        for key in ("background", "background-color"):
            if key in declarations and _resolve(declarations[key], props):
                colours["background"] = _resolve(declarations[key], props)
        for selector in selectors:
            match = LABEL_SELECTOR.match(selector)
            if not match or not colours:
                continue
            family = match.group(1)
            target = base if match.group(2) is None else pairs
            target.setdefault(selector if target is pairs else family, {}).update(colours)
    result = {}
    for selector, colours in pairs.items():
        family = LABEL_SELECTOR.match(selector).group(1)
        merged = {**base.get(family, {}), **colours}
        if merged.get("color") and merged.get("background"):
            result[selector] = (merged["color"], merged["background"])
    for family, colours in base.items():
        if colours.get("color") and colours.get("background"):
            result[f".{family}"] = (colours["color"], colours["background"])
    return result


def test_the_formula_matches_known_wcag_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_every_pill_and_badge_is_readable():
    # given: the colour pairs of every pill, badge and tier mark in the stylesheets
    pairs = label_colour_pairs()
    # the parser found the labels people see on every list page
    assert {".pill", ".pill-ok", ".pill-muted", ".pill-high", ".pill-critical", ".badge", ".tier-A"} <= set(pairs)
    # when
    ratios = {selector: round(contrast_ratio(fg, bg), 2) for selector, (fg, bg) in pairs.items()}
    # then
    too_faint = {selector: ratio for selector, ratio in ratios.items() if ratio < AA_NORMAL_TEXT}
    assert too_faint == {}


@pytest.mark.parametrize(
    ("text", "surface"),
    [("--muted", "--panel"), ("--muted", "--bg"), ("--brand", "--panel"), ("--ok", "--panel"), ("--bad", "--panel")],
)
def test_text_colours_are_readable_on_the_page_surfaces(text, surface):
    props = _custom_properties(_rules(STYLESHEETS[0].read_text()))
    assert contrast_ratio(_resolve(props[text], props), _resolve(props[surface], props)) >= AA_NORMAL_TEXT

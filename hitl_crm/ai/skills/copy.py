"""``copy_variants``: subject lines or short ad copy from keyphrases × styles.

Keyphrases come from the brief (RAKE-style); each style has a few templates; candidates
are de-duplicated (word-set Jaccard), held to a length limit and checked against a
spam-word list. Styles are allotted by ``style_weights`` so the marketing app can lean on
styles that won earlier tests (see :func:`style_weights_from_outcomes`).
"""

from __future__ import annotations

import re
from typing import Any

from hitl_crm.ai.nlp.keywords import keyphrases
from hitl_crm.ai.nlp.text import wordset
from hitl_crm.ai.prompts import fence, task_prompt
from hitl_crm.ai.schema import PROBABILITY, array, integer, number, obj, string
from hitl_crm.ai.skills.base import Skill

STYLES = ("benefit", "question", "urgency", "personal", "number")
LIMITS = {"subject": 60, "ad": 90}
SPAM_WORDS = (
    "free",
    "act now",
    "guarantee",
    "guaranteed",
    "risk-free",
    "risk free",
    "winner",
    "cash",
    "urgent",
    "click here",
    "buy now",
    "limited time",
    "100%",
    "no cost",
    "earn money",
    "miracle",
    "cheap",
    "!!!",
    "$$$",
    "once in a lifetime",
)
_SPAM_RES = [(word, re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)) for word in SPAM_WORDS]
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")
_URGENT = re.compile(r"\b(?:limited|ends?|ending|last|deadline|only until|until|while stocks? last)\b", re.IGNORECASE)
_OFFER = re.compile(r"\b\d+(?:\.\d+)?\s?% off\b|\bfree (?:shipping|delivery|returns?)\b", re.IGNORECASE)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "benefit": ("{Product} {claim}", "{Claim}: meet {product}", "{Kp}, made simple", "Get {kp} with {product}"),
    "question": (
        "Want a {noun} that {claim}?",
        "Ready for {kp}?",
        "What if your {noun} {claim}?",
        "Have you met {product}?",
    ),
    "urgency": (
        "{Offer} ends soon",
        "Last chance: {offer} on {product}",
        "{Offer} on {product}: don't wait",
        "Don't miss {kp}",
    ),
    "personal": (
        "{Audience}, meet {product}",
        "For {audience}: a {noun} that {claim}",
        "Picked for you: {product}",
        "Your next {noun} {claim}",
    ),
    "number": (
        "{Offer} on {product}",
        "{Product}: {numbered_claim}",
        "{count} reasons to try {product}",
        "{count} things to know about {product}",
    ),
}
#: Words that start a product claim: "sets up in 3 minutes", "keeps you dry", "is made of …".
_CLAIM_VERB = re.compile(r"^(?:is|are|has|have|can|will|gives?|lets?|helps?|makes?|keeps?|\w+s)$")
_NOT_VERBS = frozenset({"its", "this", "plus", "always", "less", "various", "numerous"})


def claims(brief: str, product: str) -> tuple[list[str], str]:
    """Predicates the brief states about the product, and the noun it calls the product by.

    "Our new Trailblazer 2 tent sets up in 3 minutes and keeps you dry." ->
    (["sets up in 3 minutes", "keeps you dry"], "tent")"""
    found: list[str] = []
    noun = ""
    for sentence in re.split(r"(?<=[.!?])\s+", brief):
        words = sentence.rstrip(".!?").split()
        start = 0
        if product and product.lower() in sentence.lower():
            tail = sentence.lower().split(product.lower(), 1)[1].split()
            start = len(words) - len(tail)
        for offset in range(start, min(start + 4, len(words))):
            word = words[offset].lower().strip(",;:")
            if _CLAIM_VERB.match(word) and word not in _NOT_VERBS and not word.endswith("ss"):
                if offset > start and not noun:
                    noun = " ".join(w.lower() for w in words[start:offset] if w.isalpha())
                predicate = " ".join(words[offset:])
                found.extend(p.strip(" ,") for p in re.split(r",\s*(?:and\s+)?|\s+and\s+", predicate))
                break
    return [c for c in found if 2 <= len(c.split()) <= 8 and not c.endswith(":")], noun


INPUT_SCHEMA = obj(
    {
        "brief": string(minLength=1),
        "product": string(),
        "audience": string(),
        "n": integer(minimum=1, maximum=20),
        "kind": string(enum=["subject", "ad"]),
        "style_weights": {"type": "object"},
        "policy": array(string()),
    },
    ["brief"],
)
VARIANT = obj(
    {
        "text": string(minLength=1),
        "style": string(enum=list(STYLES)),
        "length": integer(),
        "spam_words": array(string()),
        "score": number(),
    },
    ["text", "style"],
)
LLM_SCHEMA = obj(
    {
        "variants": array(
            obj({"text": string(minLength=1), "style": string(enum=list(STYLES))}, ["text", "style"]), minItems=1
        )
    },
    ["variants"],
    extra=True,
)
OUTPUT_SCHEMA = obj(
    {"variants": array(VARIANT), "keywords": array(string()), "method": string(), "confidence": PROBABILITY},
    ["variants", "confidence"],
    extra=True,
)


def check_inputs(inputs: dict[str, Any]) -> list[str]:
    errors = []
    for style, weight in (inputs.get("style_weights") or {}).items():
        if style not in STYLES:
            errors.append(f"$.style_weights.{style}: unknown style (use {', '.join(STYLES)})")
        elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            errors.append(f"$.style_weights.{style}: must be a number >= 0")
    return errors


def style_weights_from_outcomes(outcomes: dict[str, dict[str, int]]) -> dict[str, float]:
    """Turn past results ``{style: {"wins": w, "trials": t}}`` into weights: the posterior mean
    of a Beta(1, 1) prior, so untested styles keep a fair share and winners earn more."""
    return {
        style: (o.get("wins", 0) + 1) / (o.get("trials", 0) + 2) for style, o in outcomes.items() if style in STYLES
    }


def allot(n: int, weights: dict[str, float]) -> list[str]:
    """Deterministic largest-remainder split of ``n`` slots over styles, heaviest first."""
    active = {s: float(weights.get(s, 1.0)) for s in STYLES if float(weights.get(s, 1.0)) > 0}
    if not active:
        active = dict.fromkeys(STYLES, 1.0)
    total = sum(active.values())
    quotas = {s: n * w / total for s, w in active.items()}
    counts = {s: int(q) for s, q in quotas.items()}
    for style in sorted(active, key=lambda s: (-(quotas[s] - counts[s]), STYLES.index(s)))[: n - sum(counts.values())]:
        counts[style] += 1
    order = sorted(active, key=lambda s: (-active[s], STYLES.index(s)))
    slots: list[str] = []
    while len(slots) < n:
        for style in order:
            if counts[style] > 0:
                slots.append(style)
                counts[style] -= 1
    return slots[:n]


def spam_words(text: str) -> list[str]:
    found = [word for word, pattern in _SPAM_RES if pattern.search(text)]
    found += [m.group(0) for m in _SHOUTING.finditer(text) if m.group(0) not in {"SALE"}]
    if text.count("!") >= 2:
        found.append("!!")
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _similar(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.7


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(template: str, values: dict[str, str]) -> str | None:
    needed = re.findall(r"{(\w+)}", template)
    if any(not values.get(name.lower()) for name in needed):
        return None
    out = template
    for name in needed:
        value = values[name.lower()]
        out = out.replace("{" + name + "}", _cap(value) if name[0].isupper() else value)
    return _cap(" ".join(out.split()))


def score_variant(text: str, kind: str) -> tuple[float, list[str]]:
    spam = spam_words(text)
    over = max(0, len(text) - LIMITS[kind])
    return round(max(0.0, 1.0 - 0.25 * len(spam) - 0.02 * over), 3), spam


_IMPERATIVES = wordset("pick pause get try buy start join book order save shop discover choose find make enjoy")


def _keyphrases(brief: str, product: str, stated: list[str]) -> list[str]:
    """Multi-word noun-like keyphrases (single words read badly in templates), the product excluded.

    Phrases that run into a claim's verb ("tent sets" from "tent sets up") or start with an
    imperative ("pause anytime") are dropped: they are not things a reader is "ready for"."""
    verbs = {c.split()[0].lower() for c in stated}
    phrases = keyphrases(f"{product}. {brief}" if product else brief, limit=10)
    return [
        p
        for p in phrases
        if len(p.split()) >= 2
        and p.lower() not in product.lower()
        and not ({w.lower() for w in p.split()} & verbs)
        and p.split()[0].lower() not in _IMPERATIVES
    ]


def offline(inputs: dict[str, Any]) -> dict[str, Any]:
    kind = inputs.get("kind", "subject")
    n = inputs.get("n", 5)
    brief = inputs["brief"]
    product = inputs.get("product", "").strip()
    stated, noun = claims(brief, product)
    phrases = _keyphrases(brief, product, stated)
    offer = next((m.group(0) for m in _OFFER.finditer(brief)), "")
    values: dict[str, Any] = {
        "product": product or (phrases[0] if phrases else ""),
        "offer": offer,
        "audience": inputs.get("audience", "").strip(),
        "noun": noun,
        "count": str(min(5, max(3, len(stated) + len(phrases)))),
    }
    pools = {"kp": phrases, "claim": stated, "numbered_claim": [c for c in stated if re.search(r"\d", c)]}
    urgent_ok = bool(_URGENT.search(brief))
    variants: list[dict[str, Any]] = []
    for slot, style in enumerate(allot(n, inputs.get("style_weights") or {})):
        templates = TEMPLATES[style]
        if style == "urgency" and not urgent_ok:
            # No deadline in the brief: no "ends soon" or "last chance" (that would be a false claim).
            templates = tuple(t for t in templates if "ends soon" not in t and "Last chance" not in t)
        made = None
        for attempt in range(len(templates) * 4):
            template = templates[(slot + attempt) % len(templates)]
            pick = slot + attempt // len(templates)
            filled = {**values, **{k: (v[pick % len(v)] if v else "") for k, v in pools.items()}}
            text = _fill(template, filled)
            if not text or len(text) > LIMITS[kind] or any(_similar(text, v["text"]) for v in variants):
                continue
            score, spam = score_variant(text, kind)
            if len(spam) >= 2:
                continue
            made = {"text": text, "style": style, "length": len(text), "spam_words": spam, "score": score}
            break
        if made:
            variants.append(made)
    coverage = 1.0 if stated or phrases else 0.5
    confidence = sum(v["score"] for v in variants) / n * coverage if variants else 0.0
    return {
        "variants": variants,
        "keywords": phrases,
        "claims": stated,
        "method": "keyphrase-templates",
        "confidence": round(min(0.95, confidence), 3),
    }


def build_prompt(inputs: dict[str, Any]) -> str:
    kind = inputs.get("kind", "subject")
    what = "email subject lines" if kind == "subject" else "short ad texts"
    instructions = (
        f"Write {inputs.get('n', 5)} distinct {what} (at most {LIMITS[kind]} characters each) for the brief below, "
        f"each labelled with one style from {', '.join(STYLES)}. No spammy words, no ALL CAPS, and no prices, "
        "discounts or deadlines that the brief does not state."
    )
    parts = [fence("brief", inputs["brief"], product=inputs.get("product", ""), audience=inputs.get("audience", ""))]
    if inputs.get("policy"):
        parts.append(fence("policy", "\n".join(inputs["policy"])))
    return task_prompt(instructions, LLM_SCHEMA, *parts)


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    kind = inputs.get("kind", "subject")
    variants: list[dict[str, Any]] = []
    for item in raw["variants"]:
        text = " ".join(item["text"].split())
        if any(_similar(text, v["text"]) for v in variants):
            continue
        score, spam = score_variant(text, kind)
        variants.append({"text": text, "style": item["style"], "length": len(text), "spam_words": spam, "score": score})
    n = inputs.get("n", 5)
    confidence = sum(v["score"] for v in variants[:n]) / n
    return {
        "variants": variants[:n],
        "keywords": keyphrases(inputs["brief"]),
        "method": "llm",
        "confidence": round(min(0.95, confidence), 3),
    }


SKILL = Skill(
    name="copy_variants",
    description="n subject lines or short ad texts with style labels, de-duplicated and spam-checked.",
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version="copy_variants@1",
    offline_version="keyphrase-styles@1",
    offline=offline,
    build_prompt=build_prompt,
    finalize=finalize,
    generated_texts=lambda output: [v["text"] for v in output["variants"]],
    grounding_sources=lambda inputs: [inputs["brief"], inputs.get("product", ""), inputs.get("audience", "")],
    policy=lambda inputs: list(inputs.get("policy") or []),
    defaults={"n": 5, "kind": "subject"},
    check_inputs=check_inputs,
    noun="The copy",
)

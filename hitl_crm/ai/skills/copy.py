"""``copy_variants``: subject lines or short ad copy from keyphrases × styles.

Keyphrases come from the brief (RAKE-style); each style has a few templates; candidates
are held to a length limit and checked against a spam-word list. Styles are allotted by
``style_weights`` so the marketing app can lean on styles that won earlier tests (see
:func:`style_weights_from_outcomes`).

Variants fit the brief (:func:`brief_facts`, :func:`contradictions`):

- a variant never names a season or occasion, an offer (a percentage, an amount, "free …",
  "half price") or a product kind the brief does not name: a winter brief cannot give
  "Summer camps planning", whoever wrote the variant (templates, the audience note, an LLM);
- the brief's season, offer and product (its *anchors*) are each carried by some variant:
  candidates that add an anchor no chosen variant has yet are picked first;
- no two variants are near-duplicates: :func:`similarity` (the larger of token Jaccard and
  character-trigram Jaccard) stays below :data:`MAX_SIMILARITY` for every pair.

:func:`fit_report` measures all three for a set of variants, and each result carries it as
``fit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
_URGENT = re.compile(
    r"\b(?:limited|ends?|ending|last|deadline|only until|until|while stocks? last|(?:this )?weekend only|today only"
    r"|this week only)\b",
    re.IGNORECASE,
)
_OFFER = re.compile(r"\b\d+(?:\.\d+)?\s?% off\b|\bfree (?:shipping|delivery|returns?)\b", re.IGNORECASE)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "benefit": (
        "{Product} {claim}",
        "{Product}, ready for {season}",
        "Introducing the {new} {product}",
        "{Claim}: meet {product}",
        "{Kp}, made simple",
        "Get {kp} with {product}",
        "{Product} with {extra_offer}",
    ),
    "question": (
        "Want a {noun} that {claim}?",
        "Ready for {season}? Meet {product}",
        "Have you met the {new} {product}?",
        "Ready for {kp}?",
        "What if your {noun} {claim}?",
        "Have you met {product}?",
        "Is {product} your next {noun}?",
    ),
    "urgency": (
        "{Offer} ends soon",
        "Last chance: {offer} on {product}",
        "{Offer} on {product} {when}",
        "{Offer} on {product}: don't wait",
        "Don't miss {kp}",
        "Don't miss {product} {when}",
        "Don't miss {product}",
    ),
    "personal": (
        "{Audience}, meet {product}",
        "For {audience}: a {noun} that {claim}",
        "Your {seasonal} pick: {product}",
        "New for {audience}: {product}",
        "Picked for you: {product}",
        "Your next {noun} {claim}",
    ),
    "number": (
        "{Offer} on {product}",
        "{Product}: {numbered_claim}",
        "{count} reasons to pick {product} {when}",
        "{count} reasons to try {product}",
        "{count} things to know about {product}",
    ),
}
#: Words that start a product claim: "sets up in 3 minutes", "keeps you dry", "is made of …".
_CLAIM_VERB = re.compile(
    r"^(?:is|are|has|have|can|will|gives?|lets?|helps?|makes?|keeps?|packs?|sets?|comes?|fits?|ships?|weighs?|stays?)$"
)
#: Any other word ending in -s may be a verb ("tent folds flat") unless a plural noun obviously
#: follows a determiner or quantifier ("all parkas", "our gloves").
_S_VERB = re.compile(r"^\w+s$")
_NOT_VERBS = frozenset({"its", "this", "plus", "always", "less", "various", "numerous", "sales", "orders", "bulk"})
_BEFORE_NOUN = wordset("all the our your their these those its his her some any many every each off of for and or with")
_CONJUNCTIONS = wordset("and or & plus")
#: Sentences about the product that do not name it: "It packs flat." "They keep you dry."
_PRONOUN_START = wordset("it they these this")
#: RAKE runs that end in a verb ("schools ship", "Launching March") read badly as a thing.
_VERBISH = wordset(
    "ship ships shipping arrive arrives launch launches launching start starts starting end ends ending run runs "
    "keep keeps pack packs set sets order ordering"
)


def _claim_start(words: list[str], start: int, *, plain_verbs_only: bool = False) -> int | None:
    window = range(start, min(start + 4, len(words)))
    clean = [words[i].lower().strip(",;:") for i in window]
    for offset, word in zip(window, clean, strict=True):
        if _CLAIM_VERB.match(word):
            return offset
    if plain_verbs_only:
        return None
    for offset, word in zip(window, clean, strict=True):
        before = words[offset - 1].lower().strip(",;:") if offset > 0 else ""
        if (
            _S_VERB.match(word)
            and word not in _NOT_VERBS
            and not word.endswith("ss")
            and before not in _BEFORE_NOUN
            and not before[:1].isdigit()
        ):
            return offset
    return None


def claims(brief: str, product: str) -> tuple[list[str], str]:
    """Predicates the brief states about the product, and the noun it calls the product by.

    "Our new Trailblazer 2 tent sets up in 3 minutes and keeps you dry." ->
    (["sets up in 3 minutes", "keeps you dry"], "tent")

    With a product named, only sentences naming it (or starting "It"/"They") are read: "Winter
    is here." says nothing about the parka."""
    found: list[str] = []
    noun = ""
    for sentence in re.split(r"(?<=[.!?])\s+", brief):
        words = sentence.rstrip(".!?").split()
        if not words:
            continue
        start = 0
        head = product.split()[-1].lower() if product else ""
        named = [i for i, w in enumerate(words) if w.lower().strip(",;:") in {head, head + "s"}]
        if product and product.lower() in sentence.lower():
            tail = sentence.lower().split(product.lower(), 1)[1].split()
            start = len(words) - len(tail)
        elif named:
            start = named[0] + 1  # "Our Summit down parka keeps …" names the "Summit parka"
        elif product and words[0].lower() not in _PRONOUN_START:
            continue
        elif product:
            start = 1
        joined = start < len(words) and words[start].lower() in _CONJUNCTIONS
        while start < len(words) and words[start].lower() in _CONJUNCTIONS:
            start += 1  # "jackets and thermal gloves keep …": the claim is about both
        # After "… and", a word in -s is the other thing's plural ("and lunch boxes"), not a verb.
        offset = _claim_start(words, start, plain_verbs_only=joined)
        if offset is None:
            continue
        if offset > start and not noun:
            noun = " ".join(w.lower() for w in words[start:offset] if w.isalpha() and w.lower() not in _CONJUNCTIONS)
        predicate = " ".join(words[offset:])
        found.extend(p.strip(" ,") for p in re.split(r",\s*(?:and\s+)?|\s+and\s+", predicate))
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


#: Two variants this similar (token or character-trigram Jaccard) are near-duplicates.
MAX_SIMILARITY = 0.5


def _shingles(text: str, size: int = 3) -> set[str]:
    flat = " ".join(re.findall(r"\w+", text.lower()))
    return {flat[i : i + size] for i in range(max(1, len(flat) - size + 1))} if flat else set()


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def similarity(a: str, b: str) -> float:
    """The larger of the token Jaccard and the character-trigram Jaccard of two texts (0 … 1).

    Tokens catch reordered words ("Summit parka: 15% off" / "15% off Summit parka"), trigrams
    catch the same words with a tail added or inflected ("… on Summit parka: don't wait")."""
    return max(_jaccard(_words(a), _words(b)), _jaccard(_shingles(a), _shingles(b)))


def _similar(a: str, b: str) -> bool:
    return similarity(a, b) >= MAX_SIMILARITY


def max_pairwise_similarity(texts: list[str]) -> float:
    return max((similarity(a, b) for i, a in enumerate(texts) for b in texts[i + 1 :]), default=0.0)


# --- Fit to the brief: seasons, offers, product kinds -------------------------------------------

#: Seasons and occasions: canonical name → (pattern, noun, adjective, "when" phrase) for templates.
SEASONS: dict[str, tuple[str, str, str, str]] = {
    "winter": (r"winter(?:s|time|y)?", "winter", "winter", "this winter"),
    "spring": (r"spring(?:time)?(?![- ]loaded)", "spring", "spring", "this spring"),
    "summer": (r"summer(?:s|time)?", "summer", "summer", "this summer"),
    "autumn": (
        r"autumn(?:al)?|fall(?=[ -](?:sale|season|collection|range|line|catalog(?:ue)?|deals?|offers?|gear|colou?rs))"
        r"|(?<=this )fall|(?<=the )fall|(?<=early )fall|(?<=late )fall",
        "autumn",
        "autumn",
        "this autumn",
    ),
    "back-to-school": (
        r"back[- ]to[- ]school|school year|new term",
        "back to school",
        "back-to-school",
        "for back to school",
    ),
    "holidays": (r"holidays?|christmas|xmas|festive|hanukkah", "the holidays", "holiday", "for the holidays"),
    "black friday": (r"black friday|cyber monday", "Black Friday", "Black Friday", "this Black Friday"),
    "new year": (r"new year(?:'s)?", "the new year", "new-year", "for the new year"),
    "valentine's day": (r"valentine'?s?(?: day)?", "Valentine's Day", "Valentine's", "for Valentine's Day"),
    "easter": (r"easter", "Easter", "Easter", "for Easter"),
    "halloween": (r"hallowe'?en", "Halloween", "Halloween", "for Halloween"),
    "thanksgiving": (r"thanksgiving", "Thanksgiving", "Thanksgiving", "for Thanksgiving"),
}
_SEASON_RES = {name: re.compile(rf"(?<![\w-])(?:{spec[0]})(?![\w])", re.IGNORECASE) for name, spec in SEASONS.items()}
#: Offers a variant may only repeat, never invent: percentages, amounts, "free …", multi-buys.
_OFFER_TERM = re.compile(
    r"\d+(?:[.,]\d+)?\s?%(?:\s?off)?|[$£€]\s?\d+(?:[.,]\d+)?(?:\s?off)?|\b\d+(?:[.,]\d+)?\s?(?:dollars|euros|pounds)\b"
    r"|\bfree\s+\w+|\bbogo\b|\bbuy one,? get one(?: free)?\b|\bhalf[- ]price\b|\b\d\s?for\s?\d\b"
    r"|\b(?:two|three) for (?:one|two)\b|\bclearance\b|\bcoupon\b|\bpromo(?:tion(?:al)?)? code\b",
    re.IGNORECASE,
)
#: Offer words that name no terms: fine when the brief has an offer, invented when it has none.
_OFFER_WORD = re.compile(r"\b(?:sale|discount(?:s|ed)?|deals?|savings?|offers?|save|reduced)\b", re.IGNORECASE)
#: A launch ("new", "introducing"): only when the brief announces one.
_LAUNCH = re.compile(
    r"\b(?:new|introduc(?:e|es|ed|ing)|launch(?:es|ed|ing)?|just (?:arrived|landed|in)|now available|debuts?)\b",
    re.IGNORECASE,
)
#: Kinds of product a shop like the demo's sells; a variant may name only the brief's.
PRODUCT_KINDS = wordset(
    "tent tarp hammock jacket parka coat fleece vest hoodie shirt trousers pants shorts boot shoe sandal sneaker "
    "trainer sock glove mitten hat beanie scarf backpack rucksack pack bag duffel stove cookware pot mug bottle "
    "flask lantern headlamp torch flashlight knife multitool compass map pole poles mat pad mattress pillow "
    "sleeping chair table cooler kayak canoe paddle bike helmet ski skis snowboard goggles sunglasses watch "
    "camp camps camping course courses class classes lesson lessons membership subscription ticket tickets "
    "lunchbox notebook pen pencil"
)


def _stem(word: str) -> str:
    word = word.lower()
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(("s", "x", "ch", "sh")):
        return word[:-2]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _kinds(text: str) -> set[str]:
    stems = {_stem(w) for w in re.findall(r"[a-z]+", text.lower())}
    return stems & {_stem(k) for k in PRODUCT_KINDS}


def _norm_offer(text: str) -> str:
    return re.sub(r"\s+", "", text.lower()).removesuffix("off")


@dataclass(frozen=True)
class BriefFacts:
    """What a variant must keep and may not contradict, read from the brief and the product name."""

    seasons: tuple[str, ...]  # canonical names, in brief order
    offers: tuple[str, ...]  # offer terms as the brief writes them ("20% off", "free shipping")
    kinds: frozenset[str]  # product kinds the brief or the product name names (stems)
    product: str
    launch: bool
    text: str  # brief + product, lowercased: what grounds a word

    @property
    def anchors(self) -> list[str]:
        """What some variant must carry: the first season, the first offer, the product."""
        found = [f"season:{self.seasons[0]}"] if self.seasons else []
        found += [f"offer:{self.offers[0]}"] if self.offers else []
        return found + ([f"product:{self.product}"] if self.product else [])


def brief_facts(brief: str, product: str = "") -> BriefFacts:
    source = f"{brief}\n{product}"
    seasons = sorted((m.start(), name) for name, pattern in _SEASON_RES.items() if (m := pattern.search(source)))
    offers = list(dict.fromkeys(m.group(0).strip() for m in _OFFER_TERM.finditer(brief)))
    return BriefFacts(
        seasons=tuple(name for _, name in seasons),
        offers=tuple(offers),
        kinds=frozenset(_kinds(source)),
        product=product.strip(),
        launch=bool(_LAUNCH.search(brief)),
        text=source.lower(),
    )


def seasons_in(text: str) -> list[str]:
    return [name for name, pattern in _SEASON_RES.items() if pattern.search(text)]


def contradictions(text: str, facts: BriefFacts) -> list[str]:
    """Why ``text`` does not fit the brief: each season, offer or product kind it names that the
    brief does not (empty when it fits)."""
    problems = [f"season “{s}” is not in the brief" for s in seasons_in(text) if s not in facts.seasons]
    offers = {_norm_offer(o) for o in facts.offers}
    for match in _OFFER_TERM.finditer(text):
        term = _norm_offer(match.group(0))
        if term not in offers and term not in _norm_offer(facts.text):
            problems.append(f"offer “{match.group(0).strip()}” is not in the brief")
    if not facts.offers and (word := _OFFER_WORD.search(text)) and not _OFFER_WORD.search(facts.text):
        problems.append(f"“{word.group(0)}” promises an offer the brief does not make")
    problems += [f"product “{k}” is not in the brief" for k in sorted(_kinds(text) - facts.kinds)]
    if not facts.launch and (word := _LAUNCH.search(text)):
        problems.append(f"“{word.group(0)}” announces a launch the brief does not")
    return problems


def anchors_in(text: str, facts: BriefFacts) -> set[str]:
    """The brief's anchors (see :attr:`BriefFacts.anchors`) that ``text`` carries."""
    lowered = text.lower()
    found = {f"season:{s}" for s in seasons_in(text) if s in facts.seasons}
    found |= {f"offer:{o}" for o in facts.offers if _norm_offer(o) in _norm_offer(lowered)}
    if facts.product and facts.product.lower() in lowered:
        found.add(f"product:{facts.product}")
    return found & set(facts.anchors)


def fit_report(brief: str, product: str, texts: list[str]) -> dict[str, Any]:
    """How well ``texts`` fit the brief: anchors kept (share of the brief's season, offer and product
    that some variant carries), variants contradicting it, and the most similar pair."""
    facts = brief_facts(brief, product)
    kept = set().union(*(anchors_in(t, facts) for t in texts)) if texts else set()
    wanted = facts.anchors
    return {
        "anchors": wanted,
        "anchors_missing": [a for a in wanted if a not in kept],
        "anchors_kept": round(len(kept) / len(wanted), 3) if wanted else 1.0,
        "contradicting": [t for t in texts if contradictions(t, facts)],
        "max_similarity": round(max_pairwise_similarity(texts), 3),
    }


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
        and not ({w.lower() for w in p.split()} & _VERBISH)
        and not seasons_in(p)  # the season has its own templates
        and not _OFFER_TERM.search(p)  # and so has the offer
    ]


def _candidates(style: str, slot: int, values: dict[str, str], pools: dict[str, list[str]], urgent_ok: bool):
    """Every text ``style``'s templates make, in the order this slot tries them (rotated by slot
    so two slots of one style start from different templates and pool items)."""
    templates = TEMPLATES[style]
    if style == "urgency" and not urgent_ok:
        # No deadline in the brief: no "ends soon" or "last chance" (that would be a false claim).
        templates = tuple(t for t in templates if "ends soon" not in t and "Last chance" not in t)
    for attempt in range(len(templates) * 4):
        template = templates[(slot + attempt) % len(templates)]
        pick = slot + attempt // len(templates)
        filled = {**values, **{k: (v[pick % len(v)] if v else "") for k, v in pools.items()}}
        text = _fill(template, filled)
        if text:
            yield text


def offline(inputs: dict[str, Any]) -> dict[str, Any]:
    kind = inputs.get("kind", "subject")
    n = inputs.get("n", 5)
    brief = inputs["brief"]
    product = inputs.get("product", "").strip()
    facts = brief_facts(brief, product)
    stated, noun = claims(brief, product)
    phrases = _keyphrases(brief, product, stated)
    offers = [o if o[1:2].isupper() else o[:1].lower() + o[1:] for o in facts.offers]  # "Free shipping" mid-line
    offer = offers[0] if offers else ""
    season = SEASONS[facts.seasons[0]] if facts.seasons else ("", "", "", "")
    values: dict[str, Any] = {
        "product": product or (phrases[0] if phrases else ""),
        "offer": offer,
        "extra_offer": offers[1] if len(offers) > 1 else "",
        "audience": inputs.get("audience", "").strip(),
        "noun": noun,
        "count": str(min(5, max(3, len(stated) + len(phrases)))),
        "season": season[1],
        "seasonal": season[2],
        "when": season[3],
        "new": "new" if facts.launch else "",
    }
    pools = {"kp": phrases, "claim": stated, "numbered_claim": [c for c in stated if re.search(r"\d", c)]}
    urgent_ok = bool(_URGENT.search(brief))
    variants: list[dict[str, Any]] = []
    covered: set[str] = set()
    for slot, style in enumerate(allot(n, inputs.get("style_weights") or {})):
        best: tuple[int, dict[str, Any]] | None = None
        for text in _candidates(style, slot, values, pools, urgent_ok):
            if len(text) > LIMITS[kind] or contradictions(text, facts):
                continue
            if any(_similar(text, v["text"]) for v in variants):
                continue
            score, spam = score_variant(text, kind)
            if len(spam) >= 2:
                continue
            gain = len(anchors_in(text, facts) - covered)
            if best is None or gain > best[0]:
                made = {"text": text, "style": style, "length": len(text), "spam_words": spam, "score": score}
                best = (gain, made)
            if best[0] >= 1 or not set(facts.anchors) - covered:
                break  # the first candidate that adds a missing anchor (or any, once all are carried)
        if best:
            variants.append(best[1])
            covered |= anchors_in(best[1]["text"], facts)
    report = fit_report(brief, product, [v["text"] for v in variants])
    coverage = 1.0 if stated or phrases else 0.5
    confidence = sum(v["score"] for v in variants) / n * coverage * (0.5 + 0.5 * report["anchors_kept"])
    return {
        "variants": variants,
        "keywords": phrases,
        "claims": stated,
        "fit": report,
        "method": "keyphrase-templates",
        "confidence": round(min(0.95, confidence), 3) if variants else 0.0,
    }


def _keep_lines(facts: BriefFacts) -> str:
    """What the LLM must keep from the brief and may not add, in words."""
    keep = [f"the season “{SEASONS[facts.seasons[0]][1]}”"] if facts.seasons else []
    keep += [f"the offer “{facts.offers[0]}”"] if facts.offers else []
    keep += [f"the product “{facts.product}”"] if facts.product else []
    lines = []
    if keep:
        lines.append(f"Between them the texts carry {', '.join(keep)}, in the brief's words.")
    about = ", ".join(SEASONS[s][1] for s in facts.seasons)
    lines.append(
        "Never name a season, holiday, product, price, discount or launch the brief does not name "
        f"({'it is about ' + about if about else 'it names no season'})."
    )
    lines.append("Make every text different in words and structure, not the same line reworded.")
    return " ".join(lines)


def build_prompt(inputs: dict[str, Any]) -> str:
    kind = inputs.get("kind", "subject")
    what = "email subject lines" if kind == "subject" else "short ad texts"
    facts = brief_facts(inputs["brief"], inputs.get("product", ""))
    instructions = (
        f"Write {inputs.get('n', 5)} distinct {what} (at most {LIMITS[kind]} characters each) for the brief below, "
        f"each labelled with one style from {', '.join(STYLES)}. No spammy words, no ALL CAPS, and no prices, "
        "discounts or deadlines that the brief does not state. " + _keep_lines(facts)
    )
    parts = [fence("brief", inputs["brief"], product=inputs.get("product", ""), audience=inputs.get("audience", ""))]
    if inputs.get("policy"):
        parts.append(fence("policy", "\n".join(inputs["policy"])))
    return task_prompt(instructions, LLM_SCHEMA, *parts)


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Keep the model's variants that fit the brief and are not near-duplicates of an earlier one."""
    kind = inputs.get("kind", "subject")
    facts = brief_facts(inputs["brief"], inputs.get("product", ""))
    variants: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    for item in raw["variants"]:
        text = " ".join(item["text"].split())
        problems = contradictions(text, facts)
        if problems:
            dropped.append({"text": text, "reason": "; ".join(problems)})
            continue
        if any(_similar(text, v["text"]) for v in variants):
            dropped.append({"text": text, "reason": "near-duplicate of another variant"})
            continue
        score, spam = score_variant(text, kind)
        variants.append({"text": text, "style": item["style"], "length": len(text), "spam_words": spam, "score": score})
    n = inputs.get("n", 5)
    report = fit_report(inputs["brief"], inputs.get("product", ""), [v["text"] for v in variants[:n]])
    confidence = sum(v["score"] for v in variants[:n]) / n * (0.5 + 0.5 * report["anchors_kept"])
    return {
        "variants": variants[:n],
        "keywords": keyphrases(inputs["brief"]),
        "fit": report,
        "dropped": dropped,
        "method": "llm",
        "confidence": round(min(0.95, confidence), 3),
    }


SKILL = Skill(
    name="copy_variants",
    description="n subject lines or short ad texts with style labels that keep the brief's season, offer and "
    "product, de-duplicated and spam-checked.",
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version="copy_variants@2",
    offline_version="keyphrase-styles@2",
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

"""``draft_reply`` and ``draft_followup``: grounded drafts composed from retrieved sources.

Offline, a draft is assembled from parts a person would write — greeting, an
acknowledgement matched to the customer's sentiment, the answer, a next step and a
sign-off — where the answer is made only of sentences from the knowledge articles and
previously approved replies that BM25 retrieved for this message. The draft cites what it
used. Confidence combines how much of the question the best source covers with how much
of the answer the cited sources support ("grounding"). With nothing relevant retrieved, the
draft says a person will follow up, confidence is low and a ``no_grounding`` flag is raised.

Approved replies (exemplars) and a lead's history teach *style*, never facts: they were written
to someone else, so every sentence in them that commits to something (an amount, a discount, a
code, a refund, something free, a date, a link) is stripped before they are used, and they never
ground a commitment. A draft that repeats such a sentence anyway is flagged ``exemplar_commitment``.
Confidence cannot be bought by padding: a draft with any sentence its cited sources do not
support is capped at :data:`UNSUPPORTED_CAP` however many supported sentences surround it.

The offline reply's confidence is calibrated: the raw score above goes through the map stored in
:data:`CALIBRATION_FILE` (fitted by ``manage.py service_eval --calibration --write`` on the labelled
thread corpus: a draft is right when it cites exactly the articles that answer the thread), so it
reads as the probability that the draft answers from the right article(s). The raw score is kept
as ``confidence_raw``. A map fitted for another ``offline_version`` is ignored (the identity), and
a draft that answers nothing keeps its fixed floor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from hitl_crm.ai import guards
from hitl_crm.ai.conf import app_settings
from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.bm25 import BM25
from hitl_crm.ai.nlp.calibration import Calibration, IsotonicMap, confidence_map
from hitl_crm.ai.nlp.dialogue import is_generic, repeats, specific_terms
from hitl_crm.ai.nlp.risk import flag, without_injection
from hitl_crm.ai.nlp.sentiment import sentiment
from hitl_crm.ai.nlp.text import clip, content_terms, first_name, sentences
from hitl_crm.ai.prompts import defuse, fence, render, task_prompt, template_version
from hitl_crm.ai.schema import FLAG, PROBABILITY, array, number, obj, string
from hitl_crm.ai.skills.base import Skill
from hitl_crm.ai.thread import THREAD_INPUT, Thread, build_thread, prompt_parts
from hitl_crm.ai.trust import EMAIL_RE

ID = {"type": ["string", "integer"]}
ARTICLE = obj({"id": ID, "title": string(), "body": string()}, ["id", "body"], extra=True)
EXEMPLAR = obj({"id": ID, "question": string(), "reply": string()}, ["id", "reply"], extra=True)
CITATION = obj(
    {"id": string(), "title": string(), "kind": string(enum=["article", "exemplar"]), "score": number()},
    ["id", "title", "kind", "score"],
)
REPLY_INPUT = obj(
    {
        "customer_text": string(minLength=1),
        "customer_name": string(),
        "agent_name": string(),
        "sentiment": number(minimum=-1, maximum=1),
        "intent": string(),
        "knowledge": array(ARTICLE),
        "exemplars": array(EXEMPLAR),
        "policy": array(string()),
        "instruction": string(maxLength=2000),
        "thread": THREAD_INPUT,
    },
    ["customer_text"],
)
FOLLOWUP_INPUT = obj(
    {
        "lead_name": string(minLength=1),
        "company": string(),
        "rep_name": string(minLength=1),
        "history": array(string()),
        "knowledge": array(ARTICLE),
        "policy": array(string()),
    },
    ["lead_name", "rep_name", "history"],
)
LLM_SCHEMA = obj(
    {"body": string(minLength=1), "sources": array(string()), "confidence": PROBABILITY},
    ["body", "sources", "confidence"],
    extra=True,
)
OUTPUT_SCHEMA = obj(
    {
        "body": string(minLength=1),
        "sources": array(CITATION),
        "confidence": PROBABILITY,
        "grounding": PROBABILITY,
        "method": string(),
        "flags": array(FLAG),
    },
    ["body", "sources", "confidence", "grounding"],
    extra=True,
)

_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]{7,}\d")
#: A source must hold at least this share of the question's information to be used.
MIN_COVERAGE = 0.25
#: A sentence counts as supported when this share of its content words is in one source sentence.
SUPPORT_OVERLAP = 0.6
#: An approved reply this close to the question is reused as the whole answer.
EXEMPLAR_REUSE = 0.5
#: The most a drafted reply may claim, and the most when any sentence lacks support in its sources.
CONFIDENCE_CAP = 0.9
UNSUPPORTED_CAP = 0.5
#: A draft sentence sharing this share of its words with a stripped exemplar commitment repeats it.
REUSE_OVERLAP = 0.7

_GREETING = re.compile(r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b", re.IGNORECASE)
_CLOSING = re.compile(
    r"^(?:best|kind|warm)?\s*(?:regards|wishes|cheers|sincerely|thanks|thank you|many thanks)\b[,!.]?\s*\S{0,30}$",
    re.IGNORECASE,
)

# Courtesy, not content: apologies, thanks and offers of further help make no factual claim.
_SOCIAL = re.compile(
    r"^(?:i'?m|i am|we'?re|we are)?\s*(?:so |really |very )?(?:sorry|apologi[sz]e|thank|thanks|glad|happy to help)"
    r"|^(?:i|we) (?:understand|apologi[sz]e|hope|appreciate)\b"
    r"|^(?:please )?(?:let (?:me|us) know|feel free|if (?:you have|there is|this doesn'?t|anything))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    kind: str  # "article" | "exemplar"
    text: str  # where answer sentences come from
    index_text: str  # what retrieval matches against


@dataclass(frozen=True)
class Hit:
    source: Source
    score: float
    coverage: float


def collect_sources(inputs: dict[str, Any]) -> list[Source]:
    found = [
        Source(
            str(a["id"]),
            a.get("title") or clip(a["body"], 60),
            "article",
            a["body"],
            f"{a.get('title', '')} {a.get('title', '')} {a['body']}",
        )
        for a in inputs.get("knowledge") or []
    ]
    found += [
        Source(
            str(e["id"]),
            clip(e.get("question") or e["reply"], 80),
            "exemplar",
            style_only(e["reply"]),
            f"{e.get('question', '')} {e.get('question', '')} {style_only(e['reply'])}",
        )
        for e in inputs.get("exemplars") or []
    ]
    return found


def is_commitment(sentence: str) -> bool:
    """Whether a sentence commits to something a draft may only state from knowledge or policy:
    an amount, a percentage, a discount, a code, a refund, something free, a price, a date or a link."""
    return any(f["code"] in guards.COMMITMENT_CODES for f in guards.check_text(sentence, guards.Grounding()))


def commitment_sentences(text: str) -> list[str]:
    return [s for s in sentences(text) if is_commitment(s)]


def style_only(text: str) -> str:
    """An approved reply or history entry without its commitment sentences: the part that teaches
    tone and structure. Lines keep their breaks so greetings and sign-offs stay recognisable."""
    kept_lines = []
    for line in text.split("\n"):
        kept = [s for s in sentences(line) if not is_commitment(s)]
        if kept or not line.strip():
            kept_lines.append(" ".join(kept))
    return "\n".join(kept_lines).strip()


def reused_commitments(body: str, inputs: dict[str, Any], *, who: str = "The draft") -> list[dict[str, str]]:
    """Flags for draft sentences that repeat a commitment made in an approved reply or the history:
    that promise was made to someone else (or at another time) and is not this customer's."""
    stripped = [
        set(content_terms(s))
        for text in [*(e["reply"] for e in inputs.get("exemplars") or []), *(inputs.get("history") or [])]
        for s in commitment_sentences(text)
    ]
    stripped = [terms for terms in stripped if terms]
    if not stripped:
        return []
    found = []
    for sentence in sentences(body):
        terms = set(content_terms(sentence))
        if not terms or not is_commitment(sentence):
            continue
        if max(len(terms & other) / min(len(terms), len(other)) for other in stripped) >= REUSE_OVERLAP:
            found.append(
                flag(
                    "exemplar_commitment",
                    f"{who} repeats a commitment from a reply written to another customer (or from the history); "
                    "it is not grounded for this one.",
                    clip(sentence, 160),
                    "high",
                )
            )
    return found


#: Added to an article's search score for each query word in its title (weighted like the word).
TITLE_BONUS = 0.5


class Retriever:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.bm25 = BM25([content_terms(s.index_text) for s in sources])

    def search(self, query_terms: list[str], *, k: int = 3) -> list[Hit]:
        if not self.sources or not query_terms:
            return []
        scores = list(self.bm25.scores(query_terms))
        wanted = set(query_terms)
        for i, source in enumerate(self.sources):
            # What an article is about, by its title, counts beyond its words: with three articles
            # that all mention delivery, "hasn't arrived" is still "Delivery times and tracking".
            if scores[i] > 0 and source.kind == "article":
                scores[i] += TITLE_BONUS * sum(1.0 + self.idf(t) for t in wanted & set(content_terms(source.title)))
        order = sorted(range(len(self.sources)), key=lambda i: (-scores[i], i))[:k]
        return [
            Hit(self.sources[i], round(float(scores[i]), 4), round(self.bm25.coverage(query_terms, i), 4))
            for i in order
            if scores[i] > 0
        ]

    def idf(self, term: str) -> float:
        return self.bm25.idf.get(term, 0.0)

    def weight(self, term: str) -> float:
        """How much a word of an ask weighs in judging an answer: double for what the knowledge base
        is about (a word of an article's title: "refund", "warranty"), half for a word it never uses
        (a product's name, "avalanche beacons"), else one."""
        if term not in self.topics:
            return 1.0 if term in self.bm25.idf else 0.5
        return 2.0

    @cached_property
    def topics(self) -> frozenset[str]:
        return frozenset(t for s in self.sources if s.kind == "article" for t in content_terms(s.title))


#: Facts, not topics: order numbers ("NW-15530", "PO-55821"), amounts, dates. No article mentions
#: this customer's order number, amount or date, so none may count as a word the answer must cover.
_IDENTIFIER = re.compile(
    rf"\b[A-Z]{{1,5}}[-_#]?\d[\d-]{{2,}}\b|{facts.MONEY_RE.pattern}|{facts.DATE_RE.pattern}"
    r"|\b(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|a few|several)\s+"
    r"(?:working |business )?(?:days?|weeks?|hours?|months?)(?:\s+ago)?\b",
    re.IGNORECASE,
)
#: Words that carry how a customer feels or frames an ask, never what it is about ("I expect a full
#: refund", "never really liked them", "back in stock"): as query words they match the wrong article.
_FRAMING = frozenset(
    content_terms(
        "expect expected really never like liked back every full just also much offer take usually mostly yet "
        "long placed pair"
    )
)
#: Forms the light stemmer keeps apart although they are one topic: a query gains the other form.
_VARIANTS = {"deliver": "delivery", "delivery": "deliver"}


#: "Where's order NW-10001?": stop words and an order number only, yet a question about its delivery.
_WHERE_IS = re.compile(
    r"\bwhere(?:'s| is| are)\b[^.?!]{0,40}\b(?:order|parcel|package|it|they|delivery)\b", re.IGNORECASE
)


def query_terms(text: str) -> list[str]:
    """Content terms of the customer's question, minus identifiers, amounts, dates and numbers
    (facts of this order, which no article mentions) and framing words (``_FRAMING``)."""
    terms = [
        t for t in content_terms(_IDENTIFIER.sub(" ", text)) if not any(ch.isdigit() for ch in t) and t not in _FRAMING
    ]
    if _WHERE_IS.search(text) and all(is_generic(t) for t in terms):
        terms += content_terms("delivery tracking")
    return terms + [v for t in dict.fromkeys(terms) if (v := _VARIANTS.get(t)) and v not in terms]


def is_answer_sentence(sentence: str) -> bool:
    """Sentences worth quoting: not a greeting, not a sign-off, with some content."""
    stripped = sentence.strip()
    if _GREETING.match(stripped) or _CLOSING.match(stripped) or _SOCIAL.match(stripped):
        return False
    return len(content_terms(stripped)) >= 3


def select_answer(
    query_terms: list[str], hits: list[Hit], retriever: Retriever, *, limit: int = 3
) -> list[tuple[str, Source]]:
    """The sentences that answer the question, in source order, each with the source it came from."""
    usable = [h for h in hits if h.coverage >= MIN_COVERAGE]
    if not usable:
        return []
    best = usable[0]
    if best.source.kind == "exemplar" and best.coverage >= EXEMPLAR_REUSE:
        core = [
            s
            for s in sentences(best.source.text)
            if is_answer_sentence(s) and not _about_someone(s) and not _is_template(s)
        ]
        if core:
            return distinct([(s, best.source) for s in core[:5]])
    wanted = set(query_terms)
    candidates: list[tuple[float, int, int, str, Source]] = []
    for rank, hit in enumerate(usable[:2]):
        quotable = [
            s
            for s in sentences(hit.source.text)
            if is_answer_sentence(s) and not (hit.source.kind == "exemplar" and (_about_someone(s) or _is_template(s)))
        ]
        for position, sentence in enumerate(quotable):
            overlap = sum(retriever.idf(t) for t in wanted & set(content_terms(sentence)))
            if overlap <= 0 and not (rank == 0 and position == 0):
                continue
            score = overlap * (1.0 if rank == 0 else 0.6) + 0.5 / (1 + position)
            candidates.append((score, rank, position, sentence, hit.source))
    ranked = sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))
    # Relevant to the ask, not merely to the source: a sentence of the second source must share a
    # specific word with the question and score near the best sentence.
    top = ranked[0][0] if ranked else 0.0
    specific = {t for t in wanted if not is_generic(t)}
    kept: list[tuple[float, int, int, str, Source]] = []
    covered: set[str] = set()
    for i, c in enumerate(ranked):
        words = specific & set(content_terms(c[3]))
        near = c[0] >= MIN_RELATIVE * top and (c[1] == 0 or words)
        # A weaker sentence of the best source still counts when it covers a word of the ask that
        # nothing kept so far does ("… confirms the delivery date for large orders").
        if i == 0 or near or (c[1] == 0 and words - covered):
            kept.append(c)
            covered |= words
    ranked = kept
    picked: list[tuple[float, int, int, str, Source]] = []
    for c in ranked:
        if len(picked) >= limit:
            break
        if not any(same_sentence(c[3], p[3]) for p in picked):
            picked.append(c)
    return [(c[3], c[4]) for c in sorted(picked, key=lambda c: (c[1], c[2]))]


def _is_claim(sentence: str) -> bool:
    """Any sentence that states something (short ones too: "Your request is approved.")."""
    stripped = sentence.strip()
    if _GREETING.match(stripped) or _CLOSING.match(stripped) or _SOCIAL.match(stripped):
        return False
    return len(content_terms(stripped)) >= 2


def _about_someone(sentence: str) -> bool:
    """An approved reply was written to someone else: skip sentences carrying their order
    number, email or phone, so they never reach this customer."""
    return bool(facts.order_ids(sentence) or EMAIL_RE.search(sentence) or _PHONE_LIKE.search(sentence))


#: Two sentences sharing this share of their content words (Jaccard) say the same thing.
SAME_SENTENCE = 0.85
#: A sentence is quoted for an ask only when it scores this share of the best sentence for it.
MIN_RELATIVE = 0.35


def _normalised(sentence: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", sentence.lower()))


def same_sentence(a: str, b: str) -> bool:
    """Whether two sentences say the same thing: equal once case and punctuation are set aside,
    or (nearly) the same content words."""
    if _normalised(a) == _normalised(b):
        return True
    mine, theirs = set(content_terms(a)), set(content_terms(b))
    return bool(mine and theirs) and len(mine & theirs) / len(mine | theirs) >= SAME_SENTENCE


def distinct(picked: list[tuple[str, Source]], earlier: list[str] = ()) -> list[tuple[str, Source]]:  # type: ignore[assignment]
    """``picked`` without sentences that say again what an earlier one (or one in ``earlier``) said:
    the same sentence pooled from an article and an approved reply is quoted once."""
    kept: list[tuple[str, Source]] = []
    for sentence, source in picked:
        if any(same_sentence(sentence, other) for other in [*earlier, *(s for s, _ in kept)]):
            continue
        kept.append((sentence, source))
    return kept


def _is_template(sentence: str) -> bool:
    """One of the drafting engine's own sentences (the order-number request, the next step …),
    found in an approved reply: form, not an answer, and never quoted as one."""
    return any(same_sentence(sentence, t) for t in _TEMPLATES)


def grounding_score(answer: list[str], cited: list[Source]) -> float:
    """Share of answer sentences whose content words sit (mostly) in one sentence of a cited source."""
    if not answer:
        return 0.0
    source_sentences = [set(content_terms(s)) for src in cited for s in sentences(src.text)]
    supported = 0
    for sentence in answer:
        terms = set(content_terms(sentence))
        if not terms:
            supported += 1
            continue
        best = max((len(terms & src) / len(terms) for src in source_sentences), default=0.0)
        supported += best >= SUPPORT_OVERLAP
    return round(supported / len(answer), 3)


def citations(used: list[Source], hits: list[Hit]) -> list[dict[str, Any]]:
    coverage = {(h.source.kind, h.source.id): h.coverage for h in hits}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for src in used:
        seen.setdefault(
            (src.kind, src.id),
            {
                "id": src.id,
                "title": src.title,
                "kind": src.kind,
                "score": coverage.get((src.kind, src.id), 0.0),
            },
        )
    return list(seen.values())


def acknowledgement(score: float) -> str:
    if score <= -0.5:
        return "I'm really sorry about this. I understand how frustrating it is, and I want to get it sorted for you."
    if score < -0.05:
        return "I'm sorry for the trouble, and thank you for letting us know."
    if score >= 0.5:
        return "Thank you for your kind message, I'm happy to help."
    return "Thanks for reaching out."


def greeting(name: str) -> str:
    first = first_name(name)
    return f"Hi {first}," if first else "Hello,"


def sign_off(name: str, closing: str = "Best regards") -> str:
    signer = name.strip() or app_settings.COMPANY_NAME or "The support team"
    return f"{closing},\n{signer}"


_SPEAKER_PREFIX = re.compile(r"^[\w .'-]{1,40}?(?: asked| wrote| said)?:\s+")

NO_ANSWER = (
    "I want to make sure you get an accurate answer, so a member of our team will look into this "
    "and follow up with you personally."
)
NEXT_STEP = "If this doesn't fully solve it, just reply to this message and I'll take it from there."


def _no_grounding_flag(who: str) -> dict[str, str]:
    return flag(
        "no_grounding",
        f"{who} found no knowledge article or approved reply that answers this; a person should write the answer.",
        "",
        "medium",
    )


#: Pooled across sources, the answer to one ask must hold this share of its (idf-weighted) words.
MIN_POOLED = 0.3
#: The most asks one draft answers in paragraphs of their own (the rest go to a person).
MAX_ANSWERED = 4
#: A source sentence saying this share of a refuted explanation's words says it again.
REFUTED_REPEAT = 0.6
#: Words that mean the customer writes about an order they placed ("order" and "delivery" alone do
#: not: "what size should I order?", "how long does delivery take?" come before any order).
_ORDER_TOPIC = frozenset(
    content_terms("parcel tracking refund return exchange charged cancel damaged broken faulty replacement")
)
#: … or words read as written (stems would make "ordered" "order", "shipped" "ship").
_OWN_ORDER = re.compile(
    r"\b(?:(?:my|our|the|this|that|last)\s+(?:\w+\s+)?(?:order|delivery|parcel|package|purchase)"
    r"|ordered|arrived|shipped|bought|purchased|received|placed)\b",
    re.IGNORECASE,
)
#: "… send the order number and the card type …" when the thread already has the order number.
_KNOWN_ORDER_NUMBER = re.compile(
    r",?\s+(?:and|or|with)\s+(?:the|your)\s+order number\b|\b(?:the|your)\s+order number\s+(?:and|or)\s+",
    re.IGNORECASE,
)
#: How customers say it, and how knowledge articles say it: a query gains the article's words.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    stem_: tuple(content_terms(words))
    for keys, words in (
        ("arrived arrive late where lost delayed stuck transit parcel", "delivery tracking carrier"),
        ("charged twice double duplicate statement", "charge payment authorisation billing"),
        ("log login sign locked password reset", "password sign-in account"),
        ("exchange tight small large bigger smaller", "size exchange"),
        ("broken damaged faulty sole zip seam torn bent leaking", "damaged faulty warranty"),
        ("invoice receipt vat", "invoice receipt company name tax"),
        ("cancel mistake", "cancel change"),
        ("wash clean grubby soak wetting", "wash care"),
        ("abroad international customs duties norway canada uk", "international customs shipping"),
    )
    for stem_ in content_terms(keys)
}
BROKEN_PROMISE = "I'm sorry that we did not do what we told you we would. That should not have happened."
REFUTED_ACK = "Thank you for checking and telling us; I understand the earlier explanation does not match what you see."
OPEN_POINT = "I'm checking the other point you raised with the team and will come back to you on it."
THANKS_CLOSE = "Thank you for letting us know, I'm glad it's sorted. If anything else comes up, just reply here."
ASK_ORDER = "Could you reply with your order number, so I can look at the order itself?"
_TEMPLATES = (ASK_ORDER, NEXT_STEP, OPEN_POINT, THANKS_CLOSE, NO_ANSWER, BROKEN_PROMISE, REFUTED_ACK)
#: A request left asking for nothing once the order number is taken out ("Could you reply , so …").
_EMPTY_REQUEST = re.compile(
    r"\b(?:reply|respond|send|share|include|provide|give|tell)(?:\s+(?:us|me))?(?:\s+(?:with|along))?\s*(?:[,.;:?!]|$)",
    re.IGNORECASE,
)


def reply_thread(inputs: dict[str, Any]) -> Thread:
    """The thread the reply answers: ``thread`` turns when given, else the customer text as one turn."""
    if inputs.get("thread"):
        return build_thread(list(inputs["thread"]))
    return build_thread([{"role": "customer", "text": inputs["customer_text"]}])


def _pooled(
    query: list[str], hits: list[Hit], retriever: Retriever, *, skip: Any, limit: int
) -> tuple[list[tuple[str, Source]], float]:
    """Sentences from several sources that together answer ``query`` (greedy on new words covered)."""
    wanted = {t for t in query if not is_generic(t)} or set(query)
    weight = {t: 1.0 + retriever.idf(t) for t in wanted}
    total = sum(weight.values()) or 1.0
    pool = [
        (sentence, hit.source)
        for hit in hits[:4]
        for sentence in sentences(hit.source.text)
        if is_answer_sentence(sentence)
        and not (hit.source.kind == "exemplar" and (_about_someone(sentence) or _is_template(sentence)))
        and not skip(sentence)
    ]
    chosen: list[tuple[str, Source]] = []
    covered: set[str] = set()
    while len(chosen) < limit:
        best, gain = None, 0.0
        for sentence, source in pool:
            new = (wanted & set(content_terms(sentence))) - covered
            score = sum(weight[t] for t in new)
            if score > gain and not any(same_sentence(sentence, c) for c, _ in chosen):
                best, gain = (sentence, source), score
        if best is None or gain <= 0 or (chosen and gain < 0.15 * total):
            break
        chosen.append(best)
        covered |= wanted & set(content_terms(best[0]))
    coverage = sum(weight[t] for t in covered) / total
    if coverage < MIN_POOLED or not any(len(wanted & set(content_terms(s))) >= 2 for s, _ in chosen):
        return [], coverage
    order = {id(src): i for i, src in enumerate(h.source for h in hits)}
    chosen.sort(key=lambda c: (order.get(id(c[1]), 99), c[1].text.find(c[0])))
    return chosen, coverage


#: "Can you tell me where it is?", "an order of that size": the ask points at the turn around it.
_POINTS_BACK = re.compile(r"\b(?:it|its|this|that|these|those|them|they|one)\b", re.IGNORECASE)


def _ask_queries(ask_text: str, turn_text: str, instruction: str) -> list[list[str]]:
    """The queries tried for one ask, in order, each as written and with the knowledge base's words
    for the same thing (``expand``): its own words with the turn around it when it is short or points
    back at it, then its own words alone when the turn's other words led astray ("a refund of $60?")."""
    own = query_terms(f"{ask_text}\n{instruction}")
    query = list(own)
    if len({t for t in query if not is_generic(t)}) < 3 or _POINTS_BACK.search(ask_text):
        query += [t for t in query_terms(turn_text) if t not in query][:8]
    tried = [expand(query), query]
    if own != query:
        tried += [expand(own), own]
    return [q for i, q in enumerate(tried) if q and q not in tried[:i]]


#: An answer must cover this share of the ask's specific words, or at least two of them.
ASK_SUPPORT = 0.5
#: What an earlier answer says counts as the answer to a later ask when it covers this much of it.
ASK_AGAIN = 0.6


def supported(
    ask_text: str, picked: list[tuple[str, Source]], query: list[str], retriever: Retriever
) -> tuple[list[tuple[str, Source]], float]:
    """The sentences that answer the ask rather than merely share a word with its turn (or none), and
    the share of the ask's specific words they cover.

    A sentence must share a specific word with the ask itself (with the query when the ask has none
    of its own: "Can you tell me where it is?"); together they must cover two of the ask's specific
    words or half of their weight (``Retriever.weight``: "Is the Summit 4 tent in stock?" is not
    answered by the damaged-tent article, "Can I get a refund of $60?" not by "Hiking boots run true
    to size", "Please refund the $1,200 for the avalanche beacons" is by the refund policy). An ask with no
    specific word at all ("Order NW-99999.") has nothing to answer from: a person does."""
    # An ask with no words of its own ("Could you look into it?") is about its turn: the query's.
    own = [t for t in query_terms(ask_text) if not is_generic(t)] or [t for t in query if not is_generic(t)]
    asked = {t for t in own if _VARIANTS.get(t) not in own or own.index(t) < own.index(_VARIANTS[t])}
    if not asked:
        return [], 0.0

    def meets(sentence: str, title: str = "") -> set[str]:
        """The asked words the sentence says, itself, in another form or in the knowledge base's words;
        with ``title``, also what its article is about ("Banks usually show the money within 5 to 10
        working days" in the refund policy says when a refund shows)."""
        said = set(content_terms(f"{sentence}\n{title}"))
        return {t for t in asked if t in said or _VARIANTS.get(t) in said or said.intersection(EXPANSIONS.get(t, ()))}

    keep = [bool(meets(s)) for s, _ in picked]
    for i in range(len(picked) - 2, -1, -1):
        # "You can follow your order on the Orders page. It shows the carrier …": a kept sentence that
        # points back at the one before it in the same source keeps that one too.
        (_, src), (after, after_src) = picked[i], picked[i + 1]
        keep[i] = keep[i] or (keep[i + 1] and after_src is src and bool(_POINTS_BACK.match(after)))
    kept = [pair for pair, wanted in zip(picked, keep, strict=True) if wanted]
    covered = set().union(set(), *(meets(s, src.title if src.kind == "article" else "") for s, src in kept))
    share = sum(retriever.weight(t) for t in covered) / sum(retriever.weight(t) for t in asked)
    return (kept, share) if kept and (len(covered) >= 2 or share >= ASK_SUPPORT) else ([], share)


def expand(query: list[str]) -> list[str]:
    """The query plus the words the knowledge base uses for the same thing ("arrived" → "delivery")."""
    extra = [t for term in query for t in EXPANSIONS.get(term, ()) if t not in query]
    return query + list(dict.fromkeys(extra))


def answer_asks(
    thread: Thread, retriever: Retriever, *, instruction: str = "", fallback: str = ""
) -> tuple[list[dict[str, Any]], list[str]]:
    """For each open ask: the sentences that answer it (and their sources) or none; and the asks
    left without an answer. Sentences that repeat an explanation the customer refuted, or what we
    already said in the thread, are never used; an ask already answered is not answered again."""
    refuted = thread.refuted_sentences
    said = thread.agent_sentences
    order_known = bool(thread.facts.get("order_ids"))
    asks = [(a.text, thread.turns[a.turn].clean_text) for a in thread.open_asks]
    if not asks and thread.asks:
        return [], []  # everything asked was answered: the customer is closing the loop
    if not asks:
        last = thread.last_customer_turn()
        text = (last.clean_text if last else "") or fallback
        asks = [(text, text)] if text.strip() else []
    used: set[str] = set()

    def skip(sentence: str) -> bool:
        return (
            any(same_sentence(sentence, u) for u in used)
            or says_again(sentence, refuted)
            or (bool(said) and repeats(sentence, said, share=0.7))
        )

    def known(picked: list[tuple[str, Source]]) -> list[tuple[str, Source]]:
        """Do not ask for what the thread already gives (the order number); a sentence that asked for
        nothing else is left out rather than asking for nothing."""
        if not order_known:
            return picked
        kept = []
        for sentence, source in picked:
            trimmed = re.sub(r"\s+([,.;:?!])", r"\1", _KNOWN_ORDER_NUMBER.sub(" ", sentence)).replace("  ", " ")
            if trimmed != sentence:
                if _EMPTY_REQUEST.search(trimmed):
                    continue  # it asked only for the order number, which we have
                sentence = trimmed
            kept.append((sentence, source))
        return kept

    answered: list[dict[str, Any]] = []
    unanswered: list[str] = []
    limit = 3 if len(asks) == 1 else 2
    for ask_text, turn_text in asks:
        if len(answered) >= MAX_ANSWERED:
            unanswered.append(ask_text)
            continue
        # What an earlier answer already says ("What delivery times can you offer?" after the bulk
        # order answer that says the quote confirms the delivery date) is not answered twice, unless
        # the ask finds a fuller answer of its own ("How long will the refund take to show?" after the
        # refund policy: when banks show the money).
        earlier = [pair for block in answered for pair in block["answer"]]
        again, again_share = supported(ask_text, earlier, query_terms(ask_text), retriever) if earlier else ([], 0.0)
        again = again if again_share >= ASK_AGAIN else []
        # One ask: the whole message is the question (as a single-message reply always read it).
        whole = query_terms(f"{turn_text}\n{instruction}")
        queries = [expand(whole), whole] if len(asks) == 1 else []
        queries += [q for q in _ask_queries(ask_text, turn_text, instruction) if q not in queries]
        # Every query's answer is weighed; the one covering most of the ask wins, then the one whose
        # articles are about the ask by their titles ("Refund policy" for "please refund the $1,200",
        # not the lost-parcel sentence that mentions a refund), then the first: "when will it arrive?"
        # keeps the express-delivery sentence, "it hasn't arrived yet" takes the tracking article
        # that only the knowledge base's words for "arrived" find.
        asked = set(expand(query_terms(ask_text)))  # "arrived" is about "Delivery times and tracking"
        best: tuple[tuple[float, int], list[tuple[str, Source]], list[Hit], float] = ((-1.0, 0), [], [], 0.0)
        for pooling in (False, True):
            for query in queries if not best[1] else ():
                found = retriever.search(query)
                if pooling:
                    candidate, coverage = _pooled(query, found, retriever, skip=skip, limit=limit)
                else:
                    selected = select_answer(query, found, retriever, limit=limit)
                    candidate = [(s, src) for s, src in selected if not skip(s)]
                chosen, share = supported(ask_text, candidate, query, retriever)
                if not chosen:
                    continue
                titled = len(asked.intersection(*(content_terms(src.title) for _, src in chosen[:1])))
                if (share, titled) > best[0]:
                    if not pooling:
                        coverage = max(h.coverage for h in found if h.source in {src for _, src in chosen})
                    best = ((share, titled), chosen, found, coverage)
        (share, _), picked, hits, coverage = best
        if again and (not picked or share < again_share):
            coverage = max(block["coverage"] for block in answered if set(block["answer"]) & set(again))
            answered.append({"ask": ask_text, "answer": [], "again": again, "coverage": coverage, "hits": []})
            continue
        if not picked:
            unanswered.append(ask_text)
            continue
        used.update(s for s, _ in picked)
        picked = known(picked)
        if not picked:
            unanswered.append(ask_text)
            continue
        answered.append({"ask": ask_text, "answer": picked, "coverage": coverage, "hits": hits})
    customer_turns = sum(t.role == "customer" for t in thread.turns)
    if not answered and (len(asks) > 1 or (not thread.asks and customer_turns > 1)):
        # No single ask found its answer: the message as a whole may still match one source.
        whole = query_terms(f"{thread.customer_text()}\n{instruction}")
        hits = retriever.search(whole)
        picked = known([(s, src) for s, src in select_answer(whole, hits, retriever) if not skip(s)])
        if picked:
            coverage = max(h.coverage for h in hits if h.source in {src for _, src in picked})
            answered.append({"ask": thread.customer_text(), "answer": picked, "coverage": coverage, "hits": hits})
            unanswered = []
    return answered, unanswered


def says_again(sentence: str, refuted: list[str]) -> bool:
    """Whether ``sentence`` repeats an explanation the customer rejected: it holds most of that
    explanation's words, or is mostly made of them."""
    mine = specific_terms(sentence)
    for said in refuted:
        theirs = specific_terms(said)
        if mine and theirs and max(len(mine & theirs) / len(theirs), len(mine & theirs) / len(mine)) >= REFUTED_REPEAT:
            return True
    return False


def _order_topic(thread: Thread, asks: list[str]) -> bool:
    """Whether the thread is about an order the customer placed, so its number helps."""
    text = thread.customer_text()
    terms = {t for a in asks for t in content_terms(a)} | set(content_terms(text))
    return bool(terms & _ORDER_TOPIC) or bool(_OWN_ORDER.search(text))


OFFLINE_VERSION = "bm25-thread@4"
#: The calibration map of the offline reply's confidence, versioned with the drafting method.
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "templates" / "ai" / "calibration" / "draft_reply.json"


@cache
def _calibration(path: Path | None = None) -> tuple[Calibration | IsotonicMap, str]:
    """The stored map and its version label (``""`` when none applies): a missing file, or one fitted
    for another drafting method, is the identity, so a changed method never reads a stale map.
    Read once per process (``_calibration.cache_clear()`` after refitting)."""
    try:
        data = json.loads((path or CALIBRATION_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return confidence_map(None), ""
    if data.get("skill") != "draft_reply" or data.get("offline_version") != OFFLINE_VERSION:
        return confidence_map(None), ""
    return confidence_map(data["map"]), f"{data['map'].get('method', 'none')}@{data.get('version', 1)}"


def calibrated(raw: float) -> tuple[float, str]:
    """A raw offline reply confidence → ``(calibrated, map version)``."""
    mapping, version = _calibration()
    return (round(min(1.0, max(0.0, mapping.apply(raw))), 3), version) if version else (round(raw, 3), "")


def _with_confidence(output: dict[str, Any], raw: float, *, calibrate: bool = True) -> dict[str, Any]:
    value, version = calibrated(raw) if calibrate else (round(raw, 3), "")
    return {**output, "confidence": value, "confidence_raw": round(raw, 3), "calibration": version}


def reply_offline(inputs: dict[str, Any]) -> dict[str, Any]:
    thread = reply_thread(inputs)
    question = without_injection(inputs["customer_text"]) or inputs["customer_text"]
    mood = inputs.get("sentiment")
    if mood is None:
        mood = sentiment(thread.customer_text() or question).score
    sources = collect_sources(inputs)
    retriever = Retriever(sources)
    instruction = inputs.get("instruction") or ""
    answered, unanswered = answer_asks(thread, retriever, instruction=instruction, fallback=question)
    parts = [greeting(inputs.get("customer_name", "")), acknowledgement(float(mood))]
    flags: list[dict[str, str]] = []
    if thread.broken_promises:
        parts[-1] += " " + BROKEN_PROMISE
        flags.append(
            flag(
                "broken_promise",
                "We did not keep something we promised in this thread; check what can be done now.",
                clip(thread.broken_promises[-1].text, 160),
                "medium",
            )
        )
    if thread.refutations and answered:
        parts[-1] += " " + REFUTED_ACK
    if thread.injections:
        flags.append(
            flag(
                "prompt_injection",
                "A message in this thread contains instructions aimed at the AI; they were ignored.",
                thread.injections[0],
                "medium",
            )
        )
    hits_all = [h for block in answered for h in block["hits"]]
    if not answered and not unanswered and thread.asks:
        parts = [greeting(inputs.get("customer_name", "")), THANKS_CLOSE, sign_off(inputs.get("agent_name", ""))]
        thanks = {
            "body": "\n\n".join(parts),
            "sources": [],
            "grounding": 1.0,
            "method": "bm25-thread",
            "flags": flags,
            "asks_answered": [],
            "asks_open": [],
            "retrieval": [],
        }
        return _with_confidence(thanks, 0.5)
    if not answered:
        parts += [NO_ANSWER, sign_off(inputs.get("agent_name", ""))]
        nothing = {
            "body": "\n\n".join(parts),
            "sources": [],
            "grounding": 0.0,
            "method": "bm25-thread",
            "flags": [*flags, _no_grounding_flag("The drafting engine")],
            "asks_answered": [],
            "asks_open": unanswered,
            "retrieval": [_hit_dict(h) for h in retriever.search(query_terms(f"{question}\n{instruction}"))],
        }
        return _with_confidence(nothing, 0.1, calibrate=False)  # answers nothing: a person writes it
    answer_sentences = [s for block in answered for s, _ in block["answer"]]
    used = [src for block in answered for _, src in block["answer"]]
    parts += [" ".join(s for s, _ in block["answer"]) for block in answered if block["answer"]]
    if unanswered:
        parts.append(OPEN_POINT)
        flags.append(
            flag(
                "ask_unanswered",
                f"{len(unanswered)} of the customer's asks found no answer in the knowledge base; "
                "a person should answer it.",
                clip(unanswered[0], 160),
                "medium",
            )
        )
    if not thread.facts.get("order_ids") and _order_topic(thread, [b["ask"] for b in answered] + unanswered):
        parts.append(ASK_ORDER)
    parts += [NEXT_STEP, sign_off(inputs.get("agent_name", ""))]
    body = "\n\n".join(parts)
    ground = grounding_score(answer_sentences, used)
    coverage = sum(b["coverage"] for b in answered) / len(answered)
    confidence = min(CONFIDENCE_CAP, (0.25 + 0.7 * coverage) * ground)
    if unanswered or thread.broken_promises:
        confidence = min(confidence, UNSUPPORTED_CAP)
    output = {
        "body": body,
        "sources": citations(used, hits_all),
        "grounding": ground,
        "method": "bm25-thread",
        "flags": flags + reused_commitments(body, inputs),
        "asks_answered": [
            {"ask": b["ask"], "sources": list(dict.fromkeys(src.id for _, src in b["answer"] or b["again"]))}
            for b in answered
        ],
        "asks_open": unanswered,
        "retrieval": [_hit_dict(h) for h in hits_all],
    }
    return _with_confidence(output, confidence)


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {"id": hit.source.id, "kind": hit.source.kind, "score": hit.score, "coverage": hit.coverage}


_NOTE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}:\s*")
_NOTE_LABEL = re.compile(r"^(?:[\w .'-]{1,40}? (?:asked|wrote|said)|[A-Z][\w '-]{0,30}):\s+")


def lead_question(sentence: str) -> str:
    """The lead's own question out of a history line: the history is our notes ("2026-11-01: Meeting:
    Intro call — Can you deliver 40 tents?"), and their dates, kinds and titles never reach the lead."""
    text = _NOTE_DATE.sub("", sentence)
    if " — " in text:
        text = text.rsplit(" — ", 1)[1]
    for _ in range(3):
        text = _NOTE_LABEL.sub("", text, count=1)
    return text.strip()


FOLLOWUP_OPENINGS = (
    "I wanted to follow up on our last conversation.",
    "Thanks again for your time recently; I wanted to pick up where we left off.",
    "I hope things are going well{company_at}, and wanted to check in after our last exchange.",
    "Following up on our recent conversation, as promised to keep you in the loop.",
)
FOLLOWUP_CLOSINGS = (
    "Would a short call help? Just reply with a time that suits you.",
    "If it's useful, I'm happy to set up a quick call; just tell me when works for you.",
    "Let me know if you'd like to talk it through; a reply with a good time is all it takes.",
)


def _pick(options: tuple[str, ...], inputs: dict[str, Any], *, salt: str = "") -> str:
    """One phrasing per lead (stable for the same lead), so two leads never get the same letter."""
    import zlib

    key = f"{salt}|{inputs.get('lead_name', '')}|{inputs.get('company', '')}".lower()
    text = options[zlib.crc32(key.encode()) % len(options)]
    company = inputs.get("company") or ""
    return text.replace("{company_at}", f" at {company}" if company else "").replace("{company}", company)


def followup_offline(inputs: dict[str, Any]) -> dict[str, Any]:
    history = [h for h in inputs.get("history") or [] if h.strip()]
    recent = " ".join(history[-2:])
    questions = [s for h in reversed(history) for s in sentences(h) if s.rstrip().endswith("?")]
    parts = [greeting(inputs["lead_name"]), _pick(FOLLOWUP_OPENINGS, inputs)]
    sources = collect_sources(inputs)
    retriever = Retriever(sources)
    query = query_terms(questions[0] if questions else recent)
    hits = retriever.search(query)
    answer = select_answer(query, hits, retriever, limit=2)
    flags: list[dict[str, str]] = []
    if questions:
        parts.append(f"Picking up your question: “{clip(lead_question(questions[0]), 160)}”")
        if answer:
            parts.append(" ".join(s for s, _ in answer))
        else:
            parts.append("I'm checking on that and will come back to you with a clear answer.")
            flags.append(_no_grounding_flag("The follow-up"))
    elif answer:
        parts.append("In case it's useful: " + " ".join(s for s, _ in answer))
    parts += [_pick(FOLLOWUP_CLOSINGS, inputs, salt="close"), sign_off(inputs["rep_name"], "Best")]
    used = [src for _, src in answer]
    ground = grounding_score([s for s, _ in answer], used) if answer else 0.0
    if answer:
        top = max(h.coverage for h in hits if h.source in used)
        confidence = min(CONFIDENCE_CAP, (0.3 + 0.6 * top) * ground)
    else:
        confidence = 0.5 if history and not questions else 0.3
    body = "\n\n".join(parts)
    return {
        "body": body,
        "sources": citations(used, hits),
        "confidence": round(confidence, 3),
        "grounding": ground,
        "method": "bm25-extractive",
        "flags": flags + reused_commitments(body, inputs, who="The follow-up"),
    }


# --- LLM prompts ----------------------------------------------------------------------------------


def _knowledge_parts(inputs: dict[str, Any]) -> list[str]:
    parts = [fence("knowledge", a["body"], id=a["id"], title=a.get("title", "")) for a in inputs.get("knowledge") or []]
    parts += [
        fence("exemplar", f"Question: {e.get('question', '')}\nApproved reply: {style_only(e['reply'])}", id=e["id"])
        for e in inputs.get("exemplars") or []
    ]
    if inputs.get("policy"):
        parts.append(fence("policy", "\n".join(f"- {p}" for p in inputs["policy"])))
    return parts


def reply_prompt(inputs: dict[str, Any]) -> str:
    signer = inputs.get("agent_name") or app_settings.COMPANY_NAME or "The support team"
    instructions = render(
        "draft_reply",
        {"greeting": f" using {inputs['customer_name']}" if inputs.get("customer_name") else "", "signer": signer},
    )
    if inputs.get("intent"):
        instructions += f" Triage classified the message as {defuse(inputs['intent'])[:80]!r}."
    if inputs.get("instruction"):
        instructions += (
            " A colleague who reviewed an earlier draft asked for this change; follow it within the rules: "
            f"{defuse(inputs['instruction'])[:2000]!r}."
        )
    thread = reply_thread(inputs)
    data = prompt_parts(thread) if inputs.get("thread") else [fence("customer_message", inputs["customer_text"])]
    if not inputs.get("thread"):
        data += prompt_parts(thread)[1:]  # the asks of the one message too
    return task_prompt(instructions, LLM_SCHEMA, *data, *_knowledge_parts(inputs))


def followup_prompt(inputs: dict[str, Any]) -> str:
    instructions = render(
        "draft_followup",
        {
            "rep": inputs["rep_name"],
            "lead": inputs["lead_name"],
            "company": f" at {inputs['company']}" if inputs.get("company") else "",
        },
    )
    history = "\n".join(f"- {h}" for h in inputs.get("history") or [])  # context: commitments in it are checked
    return task_prompt(instructions, LLM_SCHEMA, fence("history", history), *_knowledge_parts(inputs))


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Map cited ids to sources, measure grounding ourselves, and cap the model's own confidence by it."""
    by_id = {s.id: s for s in collect_sources(inputs)}
    cited = [by_id[str(i)] for i in raw["sources"] if str(i) in by_id]
    flags: list[dict[str, str]] = []
    unknown = [str(i) for i in raw["sources"] if str(i) not in by_id]
    if unknown:
        flags.append(
            flag("unknown_source", "The draft cites sources that were not provided.", ", ".join(unknown), "medium")
        )
    body_sentences = [s for s in sentences(raw["body"]) if is_answer_sentence(s)]
    ground = grounding_score(body_sentences, cited) if cited else 0.0
    if not cited:
        flags.append(_no_grounding_flag("The draft"))
    flags += reused_commitments(raw["body"], inputs)
    hits = [Hit(s, 0.0, 0.0) for s in cited]
    # Padding with quoted knowledge raises the share of supported sentences, not the ceiling:
    # one sentence the sources do not support caps the whole draft.
    claims = [s for s in sentences(raw["body"]) if _is_claim(s)]
    ceiling = CONFIDENCE_CAP if cited and grounding_score(claims, cited) >= 1.0 else UNSUPPORTED_CAP
    confidence = round(min(float(raw["confidence"]), 0.2 + 0.75 * ground, ceiling), 3)
    return {
        **raw,
        "sources": citations(cited, hits),
        "grounding": ground,
        "confidence": confidence,
        # The stored map was fitted on the offline drafts; an LLM's confidence is not calibrated by it.
        "confidence_raw": confidence,
        "calibration": "",
        "method": "llm",
        "flags": flags,
    }


def _reply_sources(inputs: dict[str, Any]) -> list[str]:
    """What may ground a commitment: knowledge articles only (plus the policy lines, passed
    separately). Approved replies and history were written to or by someone else."""
    return [f"{a.get('title', '')}\n{a['body']}" for a in inputs.get("knowledge") or []]


def _followup_sources(inputs: dict[str, Any]) -> list[str]:
    return _reply_sources(inputs)


REPLY = Skill(
    name="draft_reply",
    description="A reply to a customer grounded in knowledge articles and approved replies, with citations.",
    input_schema=REPLY_INPUT,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version=template_version("draft_reply"),
    offline_version=OFFLINE_VERSION,
    offline=reply_offline,
    build_prompt=reply_prompt,
    finalize=finalize,
    generated_texts=lambda output: [output["body"]],
    grounding_sources=_reply_sources,
    policy=lambda inputs: list(inputs.get("policy") or []),
    defaults={"knowledge": [], "exemplars": [], "policy": []},
    noun="The draft",
)
FOLLOWUP = Skill(
    name="draft_followup",
    description="A follow-up to a lead from the conversation history, answering open questions from knowledge.",
    input_schema=FOLLOWUP_INPUT,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version=template_version("draft_followup"),
    offline_version="followup-compose@2",
    offline=followup_offline,
    build_prompt=followup_prompt,
    finalize=finalize,
    generated_texts=lambda output: [output["body"]],
    grounding_sources=_followup_sources,
    policy=lambda inputs: list(inputs.get("policy") or []),
    defaults={"knowledge": [], "policy": []},
    noun="The follow-up",
)

"""``summarize``: extractive TextRank summary with speaker attribution and regex facts."""

from __future__ import annotations

import re
from typing import Any, TypedDict

from hitl_crm.ai.nlp.facts import extract_facts
from hitl_crm.ai.nlp.text import content_terms, sentences
from hitl_crm.ai.nlp.textrank import textrank
from hitl_crm.ai.prompts import render, task_prompt, template_version
from hitl_crm.ai.schema import PROBABILITY, array, integer, nullable, number, obj, string
from hitl_crm.ai.skills.base import Skill
from hitl_crm.ai.thread import Thread, build_thread, prompt_parts


class KeyPoint(TypedDict):
    """One sentence the summary keeps, with who said it and its TextRank weight."""

    speaker: str
    text: str
    score: float


MESSAGE = obj(
    {"speaker": string(), "role": string(), "author": string(), "at": string(), "text": string()},
    ["text"],
    extra=True,
)
INPUT_SCHEMA = obj(
    {
        "messages": array(MESSAGE),
        "text": string(),
        "products": array(string()),
        "max_points": integer(minimum=1, maximum=10),
    },
)
LLM_SCHEMA = obj(
    {"summary": string(minLength=1), "key_points": array(string(minLength=1), maxItems=10)},
    ["summary", "key_points"],
    extra=True,
)
FACTS = obj(
    {
        "order_ids": array(string()),
        "amounts": array(obj({"text": string(), "value": string(), "currency": string()})),
        "dates": array(string()),
        "products": array(string()),
    },
    ["order_ids", "amounts", "dates", "products"],
)
OUTPUT_SCHEMA = obj(
    {
        "summary": string(),
        "key_points": array(obj({"speaker": string(), "text": string(), "score": nullable(number())})),
        "facts": FACTS,
        "speakers": array(string()),
        "asks": array(
            obj({"text": string(), "status": string(enum=["open", "answered"])}, ["text", "status"], extra=True)
        ),
        "promises": array(obj({"text": string(), "made_on": string(), "status": string()}, ["text"], extra=True)),
        "refutations": array(obj({"text": string(), "refuted": string()}, ["text"], extra=True)),
        "method": string(),
        "confidence": PROBABILITY,
    },
    ["summary", "key_points", "facts", "confidence"],
    extra=True,
)
_SPEAKER_LINE = re.compile(r"^\s*(?P<speaker>[A-Za-z][\w .'-]{0,30}?)\s*:\s+(?P<text>.+)$")
_ROLE_LABEL = {"customer": "Customer", "agent": "Agent"}
FACT_BOOST = 1.25  # a sentence that carries an order id, an amount or a date is what people act on
CUE_BOOST = 1.3  # problems and requests are what a colleague needs to know first
REDUNDANCY = 0.5  # skip a sentence sharing this share of its words with one already chosen
_CUES = re.compile(
    r"\b(?:broken|damaged|defective|missing|wrong|late|never arrived|not (?:working|arrived|received)|doesn'?t work|"
    r"charged|refund|cancel\w*|return|replace\w*|complain\w*|can you|could you|please|i (?:want|need|would like)|"
    r"we (?:can|will)|i'?ll|we'?ll)\b",
    re.IGNORECASE,
)
_SALUTATION = re.compile(r"^(?:hi|hello|hey|dear)(?: there| team| all)?\b[,!]?\s+(?=\S)", re.IGNORECASE)


def check_inputs(inputs: dict[str, Any]) -> list[str]:
    if not inputs.get("messages") and not (inputs.get("text") or "").strip():
        return ["$.messages or $.text: give the conversation as messages or as text"]
    return []


def units(inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """(speaker, sentence) pairs in reading order."""
    pairs: list[tuple[str, str]] = []
    if inputs.get("messages"):
        for message in inputs["messages"]:
            role = str(message.get("role") or "").strip().lower()
            speaker = str(message.get("speaker") or _ROLE_LABEL.get(role, "")).strip()
            pairs.extend((speaker, _strip_salutation(s)) for s in sentences(message["text"]))
        return [(speaker, s) for speaker, s in pairs if s]
    for line in inputs.get("text", "").splitlines():
        match = _SPEAKER_LINE.match(line)
        speaker, body = (match.group("speaker").strip(), match.group("text")) if match else ("", line)
        pairs.extend((speaker, _strip_salutation(s)) for s in sentences(body))
    return [(speaker, s) for speaker, s in pairs if s]


def _strip_salutation(sentence: str) -> str:
    """ "Hi, I ordered …" -> "I ordered …"; a bare "Hi!" or "Thanks!" carries nothing to summarise."""
    stripped = _SALUTATION.sub("", sentence).strip()
    if re.fullmatch(r"(?:hi|hello|hey|thanks|thank you|cheers)[\w ]{0,20}[.!]*", stripped, re.IGNORECASE):
        return ""
    return stripped[:1].upper() + stripped[1:]


def thread_of(inputs: dict[str, Any]) -> Thread:
    """The conversation as turns (``messages``, or ``text`` with "Speaker: …" lines)."""
    if inputs.get("messages"):
        return build_thread(list(inputs["messages"]))
    items: list[dict[str, str]] = []
    for line in inputs.get("text", "").splitlines():
        match = _SPEAKER_LINE.match(line)
        speaker, body = (match.group("speaker").strip(), match.group("text")) if match else ("", line)
        if items and not match:
            items[-1]["text"] += "\n" + body
        elif body.strip():
            items.append({"speaker": speaker, "text": body})
    return build_thread(items)


def sections(thread: Thread) -> list[str]:
    """The lines no summary may drop: every ask (open or answered), every promise we made with its
    day and whether it held, what the customer disputes, and the facts."""
    lines: list[str] = []
    if thread.asks:
        lines.append("Customer asks:")
        for ask in thread.asks:
            when = thread.when(ask.turn)
            lines.append(
                f"- ({ask.status}{', ' + when if when else ''}{', asked again' if ask.repeated else ''}) {ask.text}"
            )
    if thread.promises:
        lines.append("We promised:")
        for promise in thread.promises:
            made = f"on {promise.made_on}" if promise.made_on else "earlier"
            due = f", due {promise.due}" if promise.due else ""
            state = {"broken": "BROKEN", "overdue": "overdue", "pending": "pending"}[promise.status]
            said = f" (customer: {promise.evidence})" if promise.evidence else ""
            lines.append(f"- {made}{due}, {state}: {promise.text}{said}")
    if thread.refutations:
        lines.append("Customer disputes:")
        for item in thread.refutations:
            lines.append(f"- {item.text}" + (f" (about our: {item.refuted})" if item.refuted else ""))
    found = thread.facts
    parts = [
        ("orders", found.get("order_ids") or []),
        ("amounts", [a["text"] for a in found.get("amounts") or []]),
        ("dates", found.get("dates") or []),
        ("products", found.get("products") or []),
    ]
    shown = [f"{name} {', '.join(values)}" for name, values in parts if values]
    if shown:
        lines.append("Facts: " + "; ".join(shown) + ".")
    return lines


def _structured(thread: Thread) -> dict[str, Any]:
    data = thread.as_dict()
    return {"asks": data["asks"], "promises": data["promises"], "refutations": data["refutations"]}


def full_text(inputs: dict[str, Any]) -> str:
    if inputs.get("messages"):
        return "\n".join(m["text"] for m in inputs["messages"])
    return inputs.get("text", "")


def _label(speaker: str) -> str:
    return speaker[:1].upper() + speaker[1:] if speaker else ""


def _has_fact(sentence: str) -> bool:
    facts = extract_facts(sentence)
    return bool(facts["order_ids"] or facts["amounts"] or facts["dates"])


def _coverage(selected: list[str], document: list[list[str]], facts: dict[str, list]) -> float:
    """Confidence of an extractive summary: how much of the content and of the facts it keeps."""
    doc_terms = [t for terms in document for t in terms]
    if not doc_terms:
        return 0.0
    kept = {t for s in selected for t in content_terms(s)}
    term_recall = sum(t in kept for t in doc_terms) / len(doc_terms)
    joined = " ".join(selected)
    wanted = [*facts["order_ids"], *(a["text"] for a in facts["amounts"]), *facts["dates"]]
    fact_recall = sum(item.lower() in joined.lower() for item in wanted) / len(wanted) if wanted else 1.0
    return round(min(0.95, 0.5 * term_recall + 0.5 * fact_recall), 3)


def offline(inputs: dict[str, Any]) -> dict[str, Any]:
    pairs = units(inputs)
    facts = extract_facts(full_text(inputs), known_products=inputs.get("products"))
    speakers = list(dict.fromkeys(s for s, _ in pairs if s))
    thread = thread_of(inputs)
    if not pairs:
        return {
            "summary": "",
            "key_points": [],
            "facts": facts,
            "speakers": speakers,
            **_structured(thread),
            "method": "textrank",
            "confidence": 0.0,
        }
    terms = [content_terms(text) for _, text in pairs]
    scores = textrank(terms)
    weighted = [
        float(score) * (FACT_BOOST if _has_fact(text) else 1.0) * (CUE_BOOST if _CUES.search(text) else 1.0)
        for score, (_, text) in zip(scores, pairs, strict=True)
    ]
    limit = inputs.get("max_points") or 3
    k = min(len(pairs), limit, max(2, round(len(pairs) * 0.35)))
    ranked = sorted(range(len(pairs)), key=lambda i: (-weighted[i], i))
    # Every speaker is heard: each one's best sentence first (while there is room), then by score.
    chosen: list[int] = []
    for speaker in dict.fromkeys(s for s, _ in pairs):
        best = next(i for i in ranked if pairs[i][0] == speaker)
        if len(chosen) < k:
            chosen.append(best)
    for index in ranked:
        if len(chosen) == k:
            break
        if index in chosen:
            continue
        mine = set(terms[index])
        if any(mine and len(mine & set(terms[j])) / len(mine) >= REDUNDANCY for j in chosen):
            continue
        chosen.append(index)
    chosen.sort()
    key_points: list[KeyPoint] = [
        {"speaker": pairs[i][0], "text": pairs[i][1], "score": round(weighted[i], 4)} for i in chosen
    ]
    lines: list[str] = []
    for point in key_points:
        label = _label(point["speaker"])
        if label and lines and lines[-1].startswith(f"{label}:"):
            lines[-1] += " " + point["text"]
        else:
            lines.append(f"{label}: {point['text']}" if label else point["text"])
    narrative = " ".join(lines) if not speakers else "\n".join(lines)
    return {
        "summary": "\n".join([narrative, *sections(thread)]).strip(),
        "key_points": key_points,
        "facts": facts,
        "speakers": speakers,
        **_structured(thread),
        "method": "textrank",
        "confidence": _coverage([p["text"] for p in key_points], terms, facts),
    }


PROMPT_TEMPLATE = "summarize"
_SECTION_START = re.compile(r"(?:^|\n)(?:Customer asks:|We promised:|Customer disputes:|Facts: )")


def build_prompt(inputs: dict[str, Any]) -> str:
    thread = thread_of(inputs)
    instructions = render(PROMPT_TEMPLATE, {})
    return task_prompt(instructions, LLM_SCHEMA, *prompt_parts(thread))


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    facts = extract_facts(full_text(inputs), known_products=inputs.get("products"))
    pairs = units(inputs)
    thread = thread_of(inputs)
    points = [{"speaker": "", "text": text, "score": None} for text in raw["key_points"]]
    return {
        **raw,
        # The asks, promises and facts are computed here, whatever the model kept: none may be dropped.
        "summary": "\n".join([raw["summary"].strip(), *sections(thread)]).strip(),
        "key_points": points,
        "facts": facts,
        "speakers": list(dict.fromkeys(s for s, _ in pairs if s)),
        **_structured(thread),
        "method": "llm",
        "confidence": _coverage([raw["summary"], *raw["key_points"]], [content_terms(t) for _, t in pairs], facts),
    }


def generated_texts(output: dict[str, Any]) -> list[str]:
    if output.get("method") == "textrank":
        return []  # extractive: every sentence is the conversation's own
    # The listed sections quote the conversation; what the model wrote is the rest.
    written = _SECTION_START.split(output["summary"])[0]
    return [written, *(p["text"] for p in output["key_points"])]


SKILL = Skill(
    name="summarize",
    description="Extractive summary with speakers, key points and facts (order ids, amounts, dates, products).",
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version=template_version(PROMPT_TEMPLATE),
    offline_version="textrank-thread@2",
    offline=offline,
    build_prompt=build_prompt,
    finalize=finalize,
    generated_texts=generated_texts,
    grounding_sources=lambda inputs: [full_text(inputs)],
    check_inputs=check_inputs,
    noun="The summary",
)

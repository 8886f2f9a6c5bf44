"""Risk lexicon and prompt-injection flags for customer text (the detector is in ``nlp.injection``).

Each hit becomes a flag a reviewer can read, with the exact span that triggered it.
Risk is the maximum over the hits, so adding text can raise risk but never lower it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hitl_crm.ai.nlp.injection import INJECTION_PATTERNS as INJECTION_PATTERNS
from hitl_crm.ai.nlp.injection import injection_spans, without_comments

RISK_ORDER = ["low", "medium", "high", "critical"]


def max_risk(*levels: str) -> str:
    return max(levels, key=RISK_ORDER.index, default="low")


@dataclass(frozen=True)
class LexiconEntry:
    code: str
    risk: str
    severity: str
    message: str
    patterns: tuple[str, ...]


LEXICON: tuple[LexiconEntry, ...] = (
    LexiconEntry(
        "safety",
        "critical",
        "high",
        "The customer describes a possible safety incident or injury.",
        (
            r"\binjur(?:y|ies|ed)\b",
            r"\bcaught fire\b",
            r"\bon fire\b",
            r"\bburn(?:ed|t|s)? (?:me|my|him|her|the)\b",
            r"\bexplod(?:e|ed|ing)\b",
            r"\belectric(?:al)? shock\b",
            r"\bsmok(?:e|ing) (?:came|coming)\b",
            r"\bhospital\b",
            r"\bchok(?:e|ed|ing)\b",
            r"\ballergic reaction\b",
            r"\b(?:unsafe|dangerous|hazard(?:ous)?)\b",
            r"\bmelt(?:ed|ing)\b",
            r"\bsparks?\b",
        ),
    ),
    LexiconEntry(
        "legal_threat",
        "high",
        "high",
        "The customer mentions legal action.",
        (
            r"\blaw ?yers?\b",
            r"\battorneys?\b",
            r"\bsu(?:e|ing) (?:you|your|the company)\b",
            r"\blaw ?suit\b",
            r"\blegal action\b",
            r"\bsmall claims\b",
            r"\bcourt\b",
            r"\bclass action\b",
            r"\bsolicitor\b",
        ),
    ),
    LexiconEntry(
        "regulator",
        "high",
        "high",
        "The customer threatens to involve a regulator or consumer body.",
        (
            r"\bFTC\b",
            r"\bBBB\b",
            r"\bbetter business bureau\b",
            r"\bconsumer protection\b",
            r"\battorney general\b",
            r"\bombudsman\b",
            r"\bCFPB\b",
            r"\btrading standards\b",
            r"\breport (?:you|this|your company) to\b",
            r"\bregulator\b",
            r"\bdata protection authority\b",
            r"\bGDPR complaint\b",
        ),
    ),
    LexiconEntry(
        "chargeback",
        "high",
        "high",
        "The customer mentions a chargeback or disputing the payment.",
        (
            r"\bcharge ?backs?\b",
            r"\bdisput(?:e|ing) (?:the|this|a|your) (?:charge|payment|transaction)\b",
            r"\b(?:call|contact)(?:ing)? my (?:bank|card issuer|credit card company)\b",
            r"\breverse (?:the|this) (?:charge|payment)\b",
            r"\bfraud(?:ulent)?\b",
        ),
    ),
    LexiconEntry(
        "cancellation",
        "medium",
        "medium",
        "The customer talks about cancelling or leaving.",
        (
            r"\bcancel(?:l?ing|l?ed)? (?:my |the |our )?(?:subscription|account|membership|contract|plan|service)\b",
            r"\bclose my account\b",
            r"\bswitch(?:ing)? to (?:a |another )?competitor\b",
            r"\bnever (?:buy|order)\w* "
            r"(?:from you|again)\b",
            r"\btaking my business elsewhere\b",
            r"\bterminate (?:my|the|our) (?:contract|account)\b",
        ),
    ),
)

PROFANITY = (
    "fuck",
    "fucking",
    "fucked",
    "shit",
    "shitty",
    "bullshit",
    "crap",
    "crappy",
    "damn",
    "bitch",
    "bastard",
    "asshole",
    "dick",
    "piss",
    "pissed",
    "wtf",
)
INSULTS = (
    r"\byou(?:'re| are) (?:an? )?(?:idiot|idiots|moron|morons|stupid|useless|incompetent|clowns?|pathetic)\b",
    r"\b(?:idiot|moron|stupid|dumb|pathetic|incompetent)\b",
    r"\bshut up\b",
)
_PROFANITY_RE = re.compile(r"\b(?:" + "|".join(PROFANITY) + r")\b", re.IGNORECASE)
_INSULT_RE = [re.compile(p, re.IGNORECASE) for p in INSULTS]

_LEXICON_RE = [(entry, [re.compile(p, re.IGNORECASE) for p in entry.patterns]) for entry in LEXICON]


def flag(code: str, message: str, span: str, severity: str) -> dict[str, str]:
    """The one shape of a flag everywhere in the engine."""
    return {"code": code, "message": message, "span": span, "severity": severity}


def risk_flags(text: str) -> tuple[str, list[dict[str, str]]]:
    """Risk level and flags from the lexicon (one flag per category, first span)."""
    level = "low"
    flags: list[dict[str, str]] = []
    high_hits = 0
    for entry, patterns in _LEXICON_RE:
        match = next((m for p in patterns if (m := p.search(text))), None)
        if match is None:
            continue
        flags.append(flag(entry.code, entry.message, match.group(0), entry.severity))
        level = max_risk(level, entry.risk)
        high_hits += entry.risk in {"high", "critical"}
    if high_hits >= 2:
        level = "critical"  # e.g. a lawyer *and* a chargeback
    return level, flags


def profanity_flags(text: str, *, who: str = "The text") -> list[dict[str, str]]:
    match = _PROFANITY_RE.search(text) or next((m for p in _INSULT_RE if (m := p.search(text))), None)
    if match is None:
        return []
    return [flag("profanity", f"{who} contains profanity or an insult.", match.group(0), "high")]


def injection_flags(text: str) -> list[dict[str, str]]:
    spans = injection_spans(text)
    if not spans:
        return []
    return [
        flag(
            "prompt_injection",
            "The customer text contains instructions aimed at the AI; they were ignored and a person should check.",
            spans[0],
            "medium",
        )
    ]


def without_injection(text: str) -> str:
    """The text minus every sentence that carries an injection attempt (used for classification),
    so an injected instruction cannot steer intent or sentiment."""
    from hitl_crm.ai.nlp.text import sentences

    kept = [s for s in sentences(without_comments(text)) if not injection_spans(s)]
    return " ".join(kept)


def injection_suspected(text: str) -> bool:
    return bool(injection_spans(text))

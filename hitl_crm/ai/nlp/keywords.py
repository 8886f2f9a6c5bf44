"""Keyphrases in the style of RAKE: runs of content words, scored by word degree / frequency."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from hitl_crm.ai.nlp.text import STOPWORDS, wordset

_SPLIT = re.compile(r"[^\w'’-]+")
_GENERIC = wordset(
    "new best great good our we customers customer people product products way time make makes help helps "
    "get use using lot many every more most really"
)


def keyphrases(text: str, *, limit: int = 8, max_words: int = 3) -> list[str]:
    """Top phrases of ``text``, most salient first, in their original spelling."""
    phrases: list[list[str]] = []
    for chunk in re.split(r"[.,;:!?()\n\"]+", text):
        current: list[str] = []
        for word in _SPLIT.split(chunk.strip()):
            if not word:
                continue
            lowered = word.lower()
            if lowered in STOPWORDS or lowered in _GENERIC or lowered.isdigit() or len(lowered) < 3:
                if current:
                    phrases.append(current)
                current = []
            else:
                current.append(word)
        if current:
            phrases.append(current)
    phrases = [p[:max_words] for p in phrases]
    freq: Counter[str] = Counter()
    degree: defaultdict[str, int] = defaultdict(int)
    for phrase in phrases:
        for word in phrase:
            freq[word.lower()] += 1
            degree[word.lower()] += len(phrase)
    scored: dict[str, tuple[float, int]] = {}
    for position, phrase in enumerate(phrases):
        key = " ".join(phrase)
        score = sum(degree[w.lower()] / freq[w.lower()] for w in phrase)
        if key.lower() not in {k.lower() for k in scored}:
            scored[key] = (score, position)
    ranked = sorted(scored, key=lambda k: (-scored[k][0], scored[k][1]))
    return ranked[:limit]

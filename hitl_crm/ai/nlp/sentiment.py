"""Sentiment with VADER (lexicon shipped inside the vaderSentiment package; nothing downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@dataclass(frozen=True)
class Sentiment:
    score: float  # VADER compound, -1 (very negative) .. 1 (very positive)
    label: str  # negative / neutral / positive
    confidence: float


def label_for(score: float) -> str:
    if score <= -0.05:
        return "negative"
    if score >= 0.05:
        return "positive"
    return "neutral"


def sentiment(text: str) -> Sentiment:
    """VADER's compound score; confidence grows with its distance from neutral and with the
    share of the text that carries sentiment at all (a long neutral text is confidently neutral)."""
    scores = _analyzer().polarity_scores(text)
    compound = float(scores["compound"])
    label = label_for(compound)
    spread = float(scores["neu"]) if label == "neutral" else abs(compound)
    confidence = 0.5 + 0.5 * spread
    return Sentiment(round(compound, 4), label, round(min(confidence, 0.99), 3))


def sentiment_guarded(text: str, clean: str) -> Sentiment:
    """The most negative of: the cleaned text, the whole text, and its most negative sentence.

    Used when the text is suspected of carrying instructions aimed at the AI: glowing sentences
    added to the message can then only make the reading stricter, never milder."""
    from hitl_crm.ai.nlp.text import sentences

    readings = [sentiment(clean), sentiment(text)]
    readings += [sentiment(s) for s in sentences(text)[:50] if s.strip()]
    return min(readings, key=lambda r: (r.score, -r.confidence))

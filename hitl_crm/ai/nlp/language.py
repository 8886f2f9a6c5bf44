"""Language identification from stop-word profiles: tiny, deterministic and good enough to route."""

from __future__ import annotations

from hitl_crm.ai.nlp.text import tokens, wordset

PROFILES: dict[str, frozenset[str]] = {
    "en": wordset("the and is are was to of in it you my i for on with not have this that be at can your"),
    "es": wordset("el la los las de que y en un una es por con no para mi su pero como del al está muy"),
    "fr": wordset("le la les de et est un une je pas pour que qui dans en du des avec mon ma sur vous"),
    "de": wordset("der die das und ist nicht ich ein eine zu mit den von auf für mein meine sie es wir"),
    "it": wordset("il lo la gli le di che e è un una per non con mi mio sono del della ho ma"),
    "pt": wordset("o a os as de que e é um uma para não com meu minha do da em por mas foi"),
    "nl": wordset("de het een en is niet ik van te dat die met mijn op voor zijn je we"),
}


def detect_language(text: str) -> tuple[str, float]:
    """Best-matching language code and a confidence (the winner's share of stop-word hits,
    damped for short texts); ``("und", 0.0)`` when nothing matches."""
    words = tokens(text)
    if not words:
        return "und", 0.0
    scores = {lang: sum(w in profile for w in words) for lang, profile in PROFILES.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    total = sum(scores.values())
    if scores[best] == 0:
        return "und", 0.0
    share = scores[best] / total
    damping = min(1.0, scores[best] / 3)
    return best, round(min(0.99, share * (0.5 + 0.5 * damping)), 3)

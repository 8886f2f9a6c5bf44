"""Prompt-injection detector for customer text: instructions aimed at the AI, however they are dressed.

The detector looks at two versions of the text:

- the text as written, for plain attacks ("Ignore previous instructions …");
- a *folded* copy in which zero-width and other invisible characters are removed, look-alike
  letters (Cyrillic "о", full-width "Ｉ") become ASCII, leetspeak inside words is undone
  ("1gn0r3" → "ignore") and letters spelled out one by one are joined ("i.g.n.o.r.e" → "ignore").

It knows the common phrasings in English, German, French, Spanish, Italian, Portuguese and
Dutch, notes addressed to the AI anywhere in a line ("note to AI:", "P.S. AI", "dear assistant,"),
and anything hidden in an HTML comment. Each hit is a short span a reviewer can read.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Characters that render as nothing: a classic way to split a trigger word so filters miss it.
INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic and Greek letters that look like Latin ones
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "А": "A",
        "Е": "E",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "І": "I",
        "Κ": "K",
        "ο": "o",
        "ι": "i",
        "α": "a",
        "ε": "e",
    }
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_LEET_WORD_RE = re.compile(r"(?<![\w@$!])(?=[\w@$!]*[A-Za-z])(?=[\w@$!]*[013457@$!])[\w@$!]{3,}")
#: Letters spelled out one at a time: "i.g.n.o.r.e", "i g n o r e", "i-g-n-o-r-e", "i_g_n_o_r_e".
_SPELLED_RE = re.compile(r"(?<![A-Za-z])(?:[A-Za-z][ ._*\-+/|]{1,2}){3,}[A-Za-z](?![A-Za-z])")

_IGNORE_VERBS = (
    # en
    r"ignore|disregard|forget|override|bypass|skip|drop|overrule"
    # de
    r"|ignorier(?:e|en|t)?|missachte(?:n)?|vergiss|vergessen ?sie|übergehe|uebergehe|überschreibe"
    # fr
    r"|ignorez|ignorer|ignore|oublie[zs]?|oublier|néglige[zs]?|contourne[zs]?"
    # es / it / pt
    r"|ignora(?:d|r)?|olvid[ae](?:d|s)?|omite|haz caso omiso (?:de|a)|no hagas caso (?:de|a)|ignorate|dimentica(?:te)?|"
    r"trascura|lascia(?:te)? perdere|non seguire|ignore|esque[çc]a|esquece|desconsidere|não siga|nao siga"
    # nl
    r"|negeer|vergeet|negeren"
)
_PRIOR = (
    r"previous|prior|above|earlier|preceding|system|original|all|any|the|your|these|those|"
    r"vorherigen?|bisherigen?|obigen?|alle[ns]?|deine[n]?|ihre[n]?|die|"
    r"précédentes?|precedentes?|antérieures?|toutes|tous|les|vos|tes|"
    r"anteriores?|previas?|todas?|todos|las|los|tus|sus|"
    r"precedenti|tutte|tutti|le|tue|sue|"
    r"as|os|suas?|"
    r"vorige|eerdere|alle|de|je|jouw|uw|"
    # polite fillers between the verb and the rules
    r"please|kindly|just|simply|now|bitte|einfach|mal|nun|jetzt|s'il vous plaît|por favor|per favore|alstublieft|"
    r"agora|ahora|ora|maintenant"
)
_RULE_NOUNS = (
    r"instructions?|prompts?|rules|guidelines|directions|directives|polic(?:y|ies)|programming|orders|commands|"
    r"anweisungen|anweisung|befehle|regeln|vorgaben|richtlinien|"
    r"consignes|règles|regles|directives|"
    r"instrucciones|reglas|órdenes|normas|indicaciones|"
    r"istruzioni|regole|indicazioni|direttive|"
    r"instruções|instrucoes|regras|diretrizes|orientações|"
    r"instructies|regels|opdrachten|richtlijnen"
)
_AI_NOUNS = (
    r"ai|a\.i\.|ki|ia|assistant|assistent(?:e|a)?|assistente|bot|chatbot|chat ?gpt|gpt|llm|language model|"
    r"model|claude|gemini|copilot|robot|system|algorithm|automated (?:system|agent|reply)|auto-?responder"
)
INJECTION_PATTERNS = (
    # "ignore (all) previous instructions" in seven languages
    rf"\b(?:{_IGNORE_VERBS})\b(?:\W+(?:{_PRIOR})\b){{0,4}}\W+(?:{_RULE_NOUNS})\b"
    r"(?!\s+(?:in|on|from|of|for|that came with|printed on)\s+(?:the |your |my |this )?(?:manual|box|package|packaging|"
    r"leaflet|guide|booklet|label|kit|sheet|website|app|tent|stove|product)\b)",
    r"\b(?:ignore|disregard|forget) (?:all |any |the |your )(?:previous |prior |above |earlier )+messages?\b",
    r"\bforget (?:everything|all) (?:you|above|before|that)\b",
    r"\b(?:ignore|disregard|forget|skip)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?(?:above|preceding|foregoing)\b"
    r"(?!\s+(?:email|message|mail|note|address))",
    r"\b(?:system|admin|administrator|security|developer|supervisor) override\b",
    r"\bfrom now on,? you (?:are (?:a|an|the|my|in)|(?:will|must|should|shall) (?:act|behave|respond|reply|answer|"
    r"follow|obey|ignore|approve|only))\b|\byou are no longer (?:a|an|the|bound)\b"
    r"|\bab (?:jetzt|sofort) bist du\b|\bà partir de maintenant,? (?:tu|vous)\b|\ba partir de ahora,? (?:eres|tú)\b",
    r"\[/?INST\]|<\|im_(?:start|end)\|>|<\|(?:system|user|assistant|endoftext)\|>|<</?SYS>>|\[/?SYSTEM\]"
    r"|^#{2,} ?(?:instruction|system|new task)",
    r"\bvergiss (?:alles|alle)\b|\boublie(?:z)? tout\b|\bolvida(?:d)? todo\b|\bdimentica tutto\b"
    r"|\besque[çc]a tudo\b|\bvergeet alles\b",
    r"\byou are now (?:a|an|in|no longer)\b",
    r"\b(?:du bist|sie sind) (?:jetzt|nun|ab sofort) (?:ein|eine|im|kein)\b"
    r"|\b(?:tu es|vous êtes|vous etes) (?:maintenant|désormais) (?:un|une|en)\b"
    r"|\bahora eres (?:un|una)\b|\b(?:ora|adesso) sei (?:un|una|in)\b|\bagora (?:você é|voce e|tu és) (?:um|uma)\b"
    r"|\b(?:je|jij) bent nu (?:een|in)\b",
    r"\b(?:new|updated|real|revised) (?:system )?(?:instructions?|prompt|rules)\s*:",
    r"\b(?:neue|nouvelles?|nuevas?|nuove|novas?|nieuwe) (?:anweisungen|instructions|instrucciones|istruzioni|"
    r"instruções|instrucoes|instructies|regeln|règles|reglas|regole|regras|regels)\b",
    r"\bsystem ?prompt\b|\bprompt (?:système|systeme|del sistema|di sistema|do sistema)\b|\bsystemprompt\b",
    r"\bdeveloper mode\b|\bentwicklermodus\b|\bmode développeur\b|\bmodo (?:desarrollador|sviluppatore)\b",
    r"\bjailbreak\b",
    r"\bpretend (?:to be|you are|you're)\b",
    r"\bact as (?:if|a|an|the)\b",
    r"\bdo anything now\b",
    r"</?\s*(?:customer_message|system|instructions?|knowledge|policy|history|document|exemplar|brief)\s*>",
    r"(?im)^\s*(?:system|assistant|developer)\s*:",
    r"\b(?:as an? |as the )?(?:admin(?:istrator)?|manager|supervisor|developer|ceo),? (?:i )?"
    r"(?:hereby )?(?:authori[sz]e|approve|instruct|order)\b",
    # notes addressed to the AI anywhere in a line
    rf"\b(?:note|message|instructions?|memo|reminder|attention|hinweis|nota|remarque|opmerking) "
    rf"(?:to|for|an|für|fur|pour|para|per|voor) (?:the |die |der |den |la |el |il |o |a |de |het )?(?:{_AI_NOUNS})\b",
    rf"\bp\.?\s?s\.?\s?(?:to |for )?(?:the )?(?:{_AI_NOUNS})\b",
    rf"(?:^|[.!?:;,(\-]\s*|\s)(?:dear|hey|hi|hello|attention|hallo|liebe[rs]?|cher|chère|querido|querida|caro|cara|"
    rf"beste)\s+(?:the\s+)?(?:{_AI_NOUNS})\s*[,:!]",
    rf"(?:^|[.!?;]\s+|\s[-–—]\s)(?:{_AI_NOUNS})\s*[,:]\s*(?:please |bitte |s'il vous plaît |por favor |per favore )?"
    r"(?:ignore|approve|issue|grant|refund|reply|respond|say|tell|write|mark|set|classify|give|send|offer|"
    r"confirm|promise|include|add|genehmige|erstatte|antworte|approuve|rembourse|aprueba|reembolsa|approva|"
    r"rimborsa|aprove|reembolse|keur|betaal)\b",
    r"\b(?:respond|reply|answer) (?:only )?(?:with|as if|that)\b[^.\n]{0,40}\b(?:approved|refund|discount|low risk)\b",
    r"\b(?:mark|classify|set|rate|label) (?:this|the|my) (?:message|email|ticket|case|request)?\s?(?:as )?"
    r"(?:low[- ]risk|positive|not (?:urgent|risky)|safe|approved)\b",
)
_INJECTION_RE = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in INJECTION_PATTERNS]
HTML_COMMENT_RE = re.compile(r"<!--(.*?)(?:-->|$)", re.DOTALL)


@lru_cache(maxsize=2048)
def fold(text: str) -> str:
    """The detection copy: invisible characters out, look-alikes to ASCII, leetspeak undone,
    spelled-out letters joined. Only ever used for matching, never shown or stored."""
    folded = INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)).translate(_CONFUSABLES)
    folded = _SPELLED_RE.sub(_join_spelled, folded)
    return _LEET_WORD_RE.sub(lambda m: m.group(0).translate(_LEET), folded)


def _join_spelled(m: re.Match[str]) -> str:
    """ "i.g.n.o.r.e" → "ignore"; "i-g-n-o-r-e a-l-l" → "ignore all" (spaces part words when
    another separator joins the letters); "I g n o r e" → "Ignore"."""
    run = m.group(0)
    if re.search(r"[._*\-+/|]", run):
        return re.sub(r"(?<=[A-Za-z])[._*\-+/|]+(?=[A-Za-z])", "", run)
    return re.sub(r"[^A-Za-z]", "", run)


def _hits(text: str) -> list[str]:
    return [m.group(0).strip() for p in _INJECTION_RE for m in p.finditer(text)]


def injection_spans(text: str) -> list[str]:
    """Phrases that try to give the AI instructions from inside customer text (as written where
    possible, else as folded), then anything hidden in an HTML comment."""
    if not text:
        return []
    spans = _hits(text)
    folded = fold(text)
    if folded != text:
        spans += [s for s in _hits(folded) if s not in spans]
    for m in HTML_COMMENT_RE.finditer(text):
        hidden = " ".join(m.group(1).split())
        if len(re.findall(r"[^\W\d_]{2,}", hidden)) >= 2:
            spans.append(f"<!-- {hidden[:80]} -->")
    return spans


def without_comments(text: str) -> str:
    return HTML_COMMENT_RE.sub(" ", text)

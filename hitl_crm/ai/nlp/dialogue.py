"""What a support thread says, turn by turn: the customer's asks, our promises, their refutations.

Plain rules over sentences and clauses, so every item points at the words it came from:

- an **ask** is a customer clause that requests something: a question, "can you / could you …",
  "please …", "I want / need / would like …". A negated want ("I don't want a refund") is not an
  ask. One sentence may hold several asks ("Can I exchange it for a large, and could you check
  the boots?"). An ask is *answered* when a later agent turn addresses it (shares most of its
  content words) and the customer did not push back afterwards.
- a **promise** is an agent sentence that commits us to something ("we'll ship it by Friday",
  "you will hear from us within 2 working days", "I've asked the warehouse to …"). Its due day is
  read from the sentence against the day it was written. It is *broken* when a later customer
  turn says it did not happen ("nobody called", "still hasn't arrived", "you promised …").
- a **refutation** is a customer sentence that rejects what we said ("that's not a pending
  authorisation, both charges posted", "I already checked the spam folder"); it names the agent
  sentence it rejects so nothing repeats it.

Everything here reads customer text as data: nothing in it is followed, only classified.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.text import clip, content_terms, sentences

_REQUEST = (
    r"please|kindly|can (?:you|i|we|someone)|could (?:you|i|we|someone)|would you|will you|may i|"
    r"i (?:want|need|would like|'d like|expect|demand|am asking|'m asking)|i'd like|i want|"
    r"we (?:want|need|would like|'d like|expect|demand)|we'd like|"
    r"i'd rather|i would rather|i'd prefer|i would prefer|i prefer|we'd prefer|"
    r"let me know|tell me|send me|give me|help me|is it possible|is there (?:a|any) way"
)
REQUEST_RE = re.compile(rf"\b(?:{_REQUEST})\b", re.IGNORECASE)
# "I don't want a refund", "no need to call", "I never asked for …": the clause asks for nothing.
_NEGATED_REQUEST_RE = re.compile(
    r"\b(?:(?:do|did|does)(?: not|n't)|don'?t|never|no longer|not) (?:want|need|ask(?:ed)? for|expect|like)\b"
    r"|\bno need\b|\brather not\b",
    re.IGNORECASE,
)
#: Verbs that start a request of their own after "and" ("correct the invoice and confirm the date").
_IMPERATIVE = (
    r"confirm|send|check|change|correct|cancel|tell|update|fix|refund|exchange|replace|repair|add|remove|"
    r"explain|call|email|arrange|reset|unlock|ship|resend|issue"
)
# Where one sentence holds several asks: before a new request verb, after a comma, "and", "but", "also".
_CLAUSE_SPLIT = re.compile(
    r"(?:;\s*|,\s*(?:and\s+|but\s+)?(?:also\s+)?|\s+(?:and|but|plus)\s+(?:also\s+)?|\.\s+also,?\s+)"
    rf"(?=(?:{_REQUEST}|{_IMPERATIVE}|i (?:don'?t|do not|no longer|never))\b)",
    re.IGNORECASE,
)
_IMPERATIVE_START = re.compile(rf"^(?:{_IMPERATIVE})\b", re.IGNORECASE)
#: "Just refund me the $129.00.", "So please send it again.": a sentence that is an order.
_IMPERATIVE_SENTENCE = re.compile(
    rf"^(?:(?:at this point|so|now|then|honestly|ok|okay),?\s+)?(?:just\s+|please\s+|kindly\s+)?(?:{_IMPERATIVE})\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(r"^\W*(?:if|unless|when|once|in case)\b", re.IGNORECASE)
_DEICTIC = re.compile(r"\b(?:then|it|that|them|this|there|those)\b", re.IGNORECASE)
_LEADING_FILLER = re.compile(r"^(?:also|and|plus|oh and|one more thing|ps)\b[,:]?\s*", re.IGNORECASE)
#: A problem the customer reports without asking in so many words ("I can't log in", "the sole is
#: coming away"): fixing it is what they ask for.
PROBLEM_RE = re.compile(
    r"\b(?:can'?t|cannot|unable to|couldn'?t) (?:log ?in|sign in|get in|access|reset|find|see|use)"
    r"|\b(?:broken|broke|damaged|defective|faulty|torn|ripped|bent|cracked|leak(?:s|ing|ed)?|"
    r"coming (?:away|off|apart|loose)|came (?:off|away|apart|loose)|fell apart|falling apart|stopped working|"
    r"(?:does|did)(?:n'?t| not) work|not working|missing|wrong (?:size|colou?r|item|one)|"
    r"charged (?:me )?(?:twice|two times|double)|double[- ]charged|(?:hasn'?t|has not|haven'?t|have not|never) "
    r"(?:arrived|come|been delivered|received|shown up)|is late|still waiting|locked out|soak(?:s|ing|ed)? through)\b",
    re.IGNORECASE,
)
_RHETORICAL_RE = re.compile(
    r"^(?:is this a joke|are you (?:kidding|serious)|seriously|really|why is (?:it|this) so hard|what is going on|"
    r"how hard can it be|who does that)\b",
    re.IGNORECASE,
)
_COURTESY_RE = re.compile(
    r"^(?:thanks?|thank you|many thanks|cheers|regards|best|kind regards|hi|hello|hey|dear)\b[\w ,!.]{0,40}$",
    re.IGNORECASE,
)
PROMISE_RE = re.compile(
    r"\b(?:i|we)(?:'ll| will| shall|'re going to| are going to|'m going to| am going to)\s+(?!be happy|be glad)"
    r"|\byou(?:'ll| will) (?:receive|get|hear|have|see)\b"
    r"|\b(?:should|will) (?:arrive|reach you|be with you|be delivered|be refunded|be back)\b"
    r"|\b(?:has|have) been (?:arranged|sent|dispatched|shipped|escalated|booked|issued|approved)\b"
    r"|\bi(?:'ve| have) (?:arranged|asked|sent|escalated|requested|booked|issued|approved|started)\b"
    r"|\bexpect (?:it|a|the|your)\b|\bwithin \d+ (?:working |business )?(?:days?|hours?)\b",
    re.IGNORECASE,
)
#: A courtesy phrasing of the future tense, not a commitment ("I'll be happy to help", "we'll take it from there").
_NOT_PROMISE_RE = re.compile(
    r"\b(?:i|we)(?:'ll| will) (?:take it from there|be happy|be glad|do (?:our|my) best|keep you posted)\b"
    r"|^(?:if|let me know|please)\b",
    re.IGNORECASE,
)
BROKEN_RE = re.compile(
    r"\bstill (?:no\b|not\b|nothing\b|haven'?t|hasn'?t|have not|has not|waiting|missing|the same)"
    r"|\bnever (?:came|arrived|happened|called|heard|got|showed|received)"
    r"|\b(?:nobody|no one|no-one) (?:called|came|answered|replied|got back|contacted|rang)"
    r"|\b(?:didn'?t|did not) (?:arrive|come|happen|call|get|receive|hear|ship|show)"
    r"|\b(?:haven'?t|have not) (?:received|heard|got|had)\b"
    r"|\b(?:hasn'?t|has not) (?:arrived|come|happened|been|shipped)"
    r"|\b(?:you|they|the agent|your colleague|your team|support) (?:promised|said|told me|assured)"
    r"|\b(?:was|were) promised\b|\bnot yet\b|\byet to\b|\bno (?:call|email|reply|update|label|refund|parcel)\b",
    re.IGNORECASE,
)
REFUTE_RE = re.compile(
    r"\b(?:that'?s|that is|this is|it'?s|it is|which is) (?:not|wrong|incorrect|untrue|false)\b"
    r"|\b(?:isn'?t|is not|wasn'?t|was not|aren'?t|are not) (?:true|correct|right|the case|a pending|pending|"
    r"an authori[sz]ation|the problem|the issue)\b"
    r"|\bi(?:'ve| have)? already (?:checked|tried|done|did|looked|reset|sent|waited|followed|cleared|used)\b"
    r"|\b(?:didn'?t|did not|doesn'?t|does not|won'?t) (?:work|help|solve|fix|change anything)\b"
    r"|^no[,.!]\s|\byou(?:'re| are) wrong\b|\bthat'?s not what\b|\bnot what i (?:asked|said|meant)\b"
    r"|\b(?:both|the two|two) (?:charges|payments|debits) (?:have|are|were|both)? ?(?:posted|cleared|taken|gone|final|"
    r"settled|out of)\b"
    r"|\bnot (?:in|there in) (?:my|the) spam\b|\b(?:has|have)n'?t (?:disappeared|gone away|dropped off)\b"
    r"|\bhas not (?:disappeared|gone away)\b|\bno,? (?:it|that|this) (?:is|was)n'?t\b",
    re.IGNORECASE,
)
#: Content words too general to say two sentences are about the same thing.
_GENERIC = frozenset(
    content_terms(
        "order orders thing item items help thanks please hi hello day days time today now get got want need "
        "still already know let us you we team support email emails message reply customer look check"
    )
)
#: An ask counts as answered by an agent sentence holding this share of its specific content words.
ANSWERED_OVERLAP = 0.5
#: An agent sentence sharing this share of a refutation's specific words is the explanation refuted.
REFUTED_OVERLAP = 0.2

_WITHIN = re.compile(r"\bwithin (\d+) (working |business )?(day|hour)s?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Ask:
    """One thing the customer asked for. ``turn`` is the index of the turn it came from."""

    text: str
    turn: int
    status: str = "open"  # "open" | "answered"
    answered_in: int | None = None
    repeated: bool = False

    @property
    def terms(self) -> list[str]:
        return content_terms(self.text)


@dataclass(frozen=True)
class Promise:
    """Something we said we would do, when we said it, when it was due, and whether it held."""

    text: str
    turn: int
    made_on: str  # ISO day the promise was written ("" when unknown)
    due: str  # ISO day it was due ("" when the sentence names none)
    status: str = "pending"  # "pending" | "broken" | "overdue"
    evidence: str = ""  # the customer's words saying it did not happen


@dataclass(frozen=True)
class Refutation:
    """A customer sentence rejecting what we said, and the agent sentence it rejects ("" if unclear)."""

    text: str
    turn: int
    refuted: str
    refuted_turn: int | None = None


@dataclass(frozen=True)
class TurnText:
    """The minimum the extraction needs of a turn: its role, its day and its (untrusted) text."""

    role: str  # "customer" | "agent"
    text: str
    day: date | None = None


def is_generic(term: str) -> bool:
    return term in _GENERIC


def specific_terms(text: str) -> set[str]:
    return {t for t in content_terms(text) if t not in _GENERIC and sum(ch.isdigit() for ch in t) < 3}


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


def ask_clauses(sentence: str) -> list[str]:
    """The asks in one customer sentence (several when it strings requests together)."""
    stripped = sentence.strip()
    if not stripped or _COURTESY_RE.match(stripped) or _RHETORICAL_RE.match(stripped):
        return []
    question = stripped.endswith("?")
    requesting = question or bool(REQUEST_RE.search(stripped))
    parts = [p.strip(" ,;") for p in _CLAUSE_SPLIT.split(stripped) if p and p.strip(" ,;")]
    found: list[str] = []
    context = ""  # the clause before, when it is not an ask itself ("We leave on Saturday and I need it then")
    for index, part in enumerate(parts):
        part = _LEADING_FILLER.sub("", part)
        part = part[:1].upper() + part[1:]
        if _NEGATED_REQUEST_RE.search(part) and not question:
            continue
        is_last = index == len(parts) - 1
        asks = (
            REQUEST_RE.search(part)
            or (question and is_last)
            or part.endswith("?")
            or (requesting and index > 0 and _IMPERATIVE_START.match(part))
            or _IMPERATIVE_SENTENCE.match(part)
        )
        if asks and (content_terms(part) or part.endswith("?")):
            found.append(f"{context} and {part[:1].lower()}{part[1:]}" if context and _DEICTIC.search(part) else part)
            context = ""
        else:
            context = part
    return found


def _turn_asks(text: str) -> list[str]:
    """The asks of one customer turn, in reading order: explicit requests, and reported problems none
    of them covers. A request with hardly any content ("Please fix this.") carries the sentence before."""
    said = sentences(text)
    explicit: list[tuple[int, str]] = []
    for position, sentence in enumerate(said):
        for part in ask_clauses(sentence):
            if len(specific_terms(part)) < 2 and position > 0 and not ask_clauses(said[position - 1]):
                part = f"{said[position - 1]} {part}"
            explicit.append((position, part))
    covered = [specific_terms(a) for _, a in explicit]
    problems = [
        (position, s)
        for position, s in enumerate(said)
        if PROBLEM_RE.search(s)
        and not ask_clauses(s)
        and not any(s in a for _, a in explicit)
        and not any(_overlap(specific_terms(s), c) >= 0.3 for c in covered)
    ]
    return [a for _, a in sorted(explicit + problems, key=lambda item: item[0])]


def extract_asks(turns: Sequence[TurnText]) -> list[Ask]:
    """Every customer ask in reading order; a later near-repeat replaces the earlier one (``repeated``)."""
    raw: list[Ask] = []
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        raw.extend(Ask(clip(_LEADING_FILLER.sub("", part), 300), index) for part in _turn_asks(turn.text))
    asks: list[Ask] = []
    for ask in raw:
        mine = specific_terms(ask.text)
        earlier = next(
            (
                i
                for i, a in enumerate(asks)
                if a.turn != ask.turn and mine and _overlap(mine, specific_terms(a.text)) >= 0.6
            ),
            None,
        )
        # Asked again later: both stay listed (the summary keeps every ask), the later one marked.
        asks.append(Ask(ask.text, ask.turn, repeated=True) if earlier is not None else ask)
    return [_status(ask, turns) for ask in asks]


def _status(ask: Ask, turns: Sequence[TurnText]) -> Ask:
    mine = specific_terms(ask.text)
    if not mine:
        return ask
    for index in range(ask.turn + 1, len(turns)):
        turn = turns[index]
        if turn.role != "agent":
            continue
        if any(_overlap(mine, specific_terms(s)) >= ANSWERED_OVERLAP for s in sentences(turn.text)):
            pushed_back = any(
                t.role == "customer" and (REFUTE_RE.search(t.text) or BROKEN_RE.search(t.text))
                for t in turns[index + 1 :]
            )
            if not pushed_back:
                return Ask(ask.text, ask.turn, "answered", index, ask.repeated)
    return ask


def _add_working_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def due_day(sentence: str, made_on: date | None) -> date | None:
    """The day a promise falls due: a date it names, "within N (working) days", "tomorrow", "by Friday"."""
    if made_on is None:
        return None
    within = _WITHIN.search(sentence)
    if within:
        n = int(within.group(1))
        if within.group(3).lower() == "hour":
            return made_on + timedelta(days=1 if n >= 8 else 0)
        return _add_working_days(made_on, n) if within.group(2) else made_on + timedelta(days=n)
    for mention in facts.dates(sentence, today=made_on):
        if mention.iso:
            day = date.fromisoformat(mention.iso)
            if day >= made_on:
                return day
    return None


def is_promise(sentence: str) -> bool:
    return bool(PROMISE_RE.search(sentence)) and not _NOT_PROMISE_RE.search(sentence.strip())


def extract_promises(turns: Sequence[TurnText]) -> list[Promise]:
    """Every commitment in our turns, with the day made, the day due and whether it was kept."""
    found: list[Promise] = []
    for index, turn in enumerate(turns):
        if turn.role != "agent":
            continue
        for sentence in sentences(turn.text):
            if not is_promise(sentence):
                continue
            due = due_day(sentence, turn.day)
            status, evidence = "pending", ""
            mine = specific_terms(sentence)
            for later in turns[index + 1 :]:
                if later.role != "customer":
                    continue
                for said in sentences(later.text):
                    match = BROKEN_RE.search(said)
                    if not match:
                        continue
                    about = _overlap(mine, specific_terms(said)) > 0 or re.search(
                        r"promised|said|told|assured|was supposed", said, re.IGNORECASE
                    )
                    past_due = due is not None and later.day is not None and later.day > due
                    if about or past_due:
                        status, evidence = "broken", clip(said, 200)
                        break
                if status == "broken":
                    break
            if status == "pending" and due is not None and turns and turns[-1].day and turns[-1].day > due:
                status = "overdue"
            found.append(
                Promise(
                    clip(sentence, 300),
                    index,
                    turn.day.isoformat() if turn.day else "",
                    due.isoformat() if due else "",
                    status,
                    evidence,
                )
            )
    return found


def extract_refutations(turns: Sequence[TurnText]) -> list[Refutation]:
    """Customer sentences that reject something we said, each with the agent sentence rejected."""
    found: list[Refutation] = []
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        agent_before = [(i, t) for i, t in enumerate(turns[:index]) if t.role == "agent"]
        if not agent_before:
            continue
        customer_terms = specific_terms(turn.text)
        for sentence in sentences(turn.text):
            if not REFUTE_RE.search(sentence) or _CONDITIONAL.match(sentence):
                continue
            mine = specific_terms(sentence) | customer_terms
            best: tuple[float, int | None, str] = (0.0, None, "")
            for agent_index, agent_turn in reversed(agent_before):
                for said in sentences(agent_turn.text):
                    theirs = specific_terms(said)
                    score = _overlap(theirs, mine)
                    if score > best[0]:
                        best = (score, agent_index, said)
            refuted = best[2] if best[0] >= REFUTED_OVERLAP else ""
            found.append(Refutation(clip(sentence, 300), index, clip(refuted, 300), best[1] if refuted else None))
    return found


def repeats(sentence: str, said: Sequence[str], *, share: float = 0.5) -> bool:
    """Whether ``sentence`` says again (this share of its specific words) one of the ``said`` sentences."""
    mine = specific_terms(sentence)
    return any(mine and _overlap(mine, specific_terms(s)) >= share for s in said if s)


__all__ = [
    "Ask",
    "Promise",
    "Refutation",
    "TurnText",
    "ask_clauses",
    "due_day",
    "extract_asks",
    "extract_promises",
    "extract_refutations",
    "is_promise",
    "repeats",
    "specific_terms",
]

"""A conversation as the skills read it: turns (who said what, when) and what the thread holds.

    thread = build_thread([
        {"role": "customer", "author": "Dana", "at": "2026-11-02T09:14:00Z", "text": "Where is my tent?"},
        {"role": "agent", "author": "Sue", "at": "2026-11-02T11:00:00Z", "text": "It will arrive by Friday."},
        {"role": "customer", "at": "2026-11-09", "text": "It never arrived. I want my $189.99 back."},
    ])
    thread.asks          # every customer ask, open or answered
    thread.promises      # every promise we made, with the day made, the day due and whether it held
    thread.refutations   # what the customer rejected of what we said
    thread.facts         # order ids, amounts, dates, products of the whole thread

A skill takes a thread as the ``thread`` (or ``messages``) input: a list of turns with ``role``
(``customer`` or ``agent``; ``speaker`` is accepted and a role is inferred from it), ``author``,
``at`` (ISO date or datetime) and ``text``. Every word of a customer turn is untrusted data: the
engine redacts it like any other input, the guards see it, and sentences carrying instructions
aimed at the AI are set aside (``Turn.clean_text``) before anything is extracted from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from hitl_crm.ai.nlp import dialogue
from hitl_crm.ai.nlp.facts import extract_facts
from hitl_crm.ai.nlp.injection import injection_spans
from hitl_crm.ai.nlp.risk import without_injection
from hitl_crm.ai.nlp.text import clip
from hitl_crm.ai.schema import array, obj, string

CUSTOMER, AGENT = "customer", "agent"
_AGENT_WORDS = frozenset(
    {"agent", "support", "staff", "rep", "sales", "assistant", "bot", "ai", "us", "we", "team", "system", "operator"}
)
_CUSTOMER_WORDS = frozenset({"customer", "client", "user", "buyer", "lead", "contact", "guest"})

#: The input shape of one turn (skills accept a list of these as ``thread``).
TURN = obj(
    {"role": string(enum=[CUSTOMER, AGENT]), "author": string(), "at": string(), "text": string()},
    ["role", "text"],
    extra=True,
)
THREAD_INPUT = array(TURN, maxItems=200)


@dataclass(frozen=True)
class Turn:
    role: str  # "customer" | "agent"
    text: str
    author: str = ""
    at: str = ""  # ISO date or datetime, as given

    @property
    def day(self) -> date | None:
        return parse_day(self.at)

    @property
    def clean_text(self) -> str:
        """The text minus sentences aimed at the AI (a customer's; ours are taken as written)."""
        if self.role != CUSTOMER:
            return self.text
        return without_injection(self.text) if injection_spans(self.text) else self.text

    @property
    def label(self) -> str:
        who = "Customer" if self.role == CUSTOMER else "Agent"
        return f"{who} ({self.author})" if self.author and self.author.lower() not in {CUSTOMER, AGENT} else who


@dataclass(frozen=True)
class Thread:
    turns: list[Turn]
    asks: list[dialogue.Ask] = field(default_factory=list)
    promises: list[dialogue.Promise] = field(default_factory=list)
    refutations: list[dialogue.Refutation] = field(default_factory=list)
    facts: dict[str, list] = field(default_factory=dict)
    injections: list[str] = field(default_factory=list)

    @property
    def open_asks(self) -> list[dialogue.Ask]:
        return [a for a in self.asks if a.status == "open"]

    @property
    def broken_promises(self) -> list[dialogue.Promise]:
        return [p for p in self.promises if p.status in {"broken", "overdue"}]

    @property
    def refuted_sentences(self) -> list[str]:
        return [r.refuted for r in self.refutations if r.refuted]

    @property
    def agent_sentences(self) -> list[str]:
        from hitl_crm.ai.nlp.text import sentences

        return [s for t in self.turns if t.role == AGENT for s in sentences(t.text)]

    def customer_text(self, *, clean: bool = True) -> str:
        return "\n\n".join((t.clean_text if clean else t.text) for t in self.turns if t.role == CUSTOMER)

    def last_customer_turn(self) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == CUSTOMER), None)

    def when(self, index: int) -> str:
        return self.turns[index].at[:10] if 0 <= index < len(self.turns) else ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON the summary stores and an LLM prompt shows (asks, promises, refutations)."""
        return {
            "asks": [
                {
                    "text": a.text,
                    "status": a.status,
                    "turn": a.turn,
                    "at": self.when(a.turn),
                    "repeated": a.repeated,
                }
                for a in self.asks
            ],
            "promises": [
                {
                    "text": p.text,
                    "turn": p.turn,
                    "made_on": p.made_on,
                    "due": p.due,
                    "status": p.status,
                    "evidence": p.evidence,
                }
                for p in self.promises
            ],
            "refutations": [asdict(r) for r in self.refutations],
        }


def prompt_parts(thread: Thread) -> list[str]:
    """The thread for a model: the numbered, dated turns, then the locally extracted asks, promises
    and refutations, each fenced as data (customer words never become instructions)."""
    from hitl_crm.ai.prompts import fence

    turns = "\n".join(
        f"[{i + 1}] {t.label}{' ' + t.at[:16] if t.at else ''}: {t.text}" for i, t in enumerate(thread.turns)
    )
    data = thread.as_dict()
    asks = "\n".join(f"- [{a['status']}] (turn {a['turn'] + 1}) {a['text']}" for a in data["asks"]) or "(none found)"
    promises = (
        "\n".join(
            f"- (turn {p['turn'] + 1}, made {p['made_on'] or '?'}, due {p['due'] or '?'}, {p['status']}) {p['text']}"
            for p in data["promises"]
        )
        or "(none)"
    )
    refuted = "\n".join(f"- {r['text']} (rejects: {r['refuted'] or '?'})" for r in data["refutations"]) or "(none)"
    return [
        fence("conversation", turns),
        fence("asks", asks),
        fence("promises", promises),
        fence("refutations", refuted),
    ]


def parse_day(value: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None


def role_of(item: dict[str, Any], *, first_speaker: str) -> str:
    """``role`` when given, else inferred from ``speaker``: "Agent", "Support" … are us; the first
    named speaker of a conversation is the customer, any other name is one of us."""
    role = str(item.get("role") or "").strip().lower()
    if role in {CUSTOMER, AGENT}:
        return role
    if role in _AGENT_WORDS:
        return AGENT
    if role in _CUSTOMER_WORDS:
        return CUSTOMER
    speaker = str(item.get("speaker") or item.get("author") or "").strip().lower()
    if speaker in _AGENT_WORDS or speaker.startswith(("agent", "support")):
        return AGENT
    if not speaker or speaker in _CUSTOMER_WORDS or speaker == first_speaker:
        return CUSTOMER
    return AGENT


def build_thread(items: list[dict[str, Any]]) -> Thread:
    """A :class:`Thread` from turns (``role``/``speaker``, ``author``, ``at``, ``text``), oldest first."""
    first = next((str(i.get("speaker") or "").strip().lower() for i in items if i.get("speaker")), "")
    turns = [
        Turn(
            role_of(item, first_speaker=first),
            str(item.get("text") or "").strip(),
            str(item.get("author") or item.get("speaker") or "").strip()[:100],
            str(item.get("at") or "").strip()[:40],
        )
        for item in items
        if str(item.get("text") or "").strip()
    ]
    return analyse(turns)


def analyse(turns: list[Turn]) -> Thread:
    """Asks, promises, refutations and facts of ``turns`` (customer text read without injected sentences)."""
    view = [dialogue.TurnText(t.role, t.clean_text, t.day) for t in turns]
    injections = [clip(s, 200) for t in turns if t.role == CUSTOMER for s in injection_spans(t.text)]
    return Thread(
        turns,
        dialogue.extract_asks(view),
        dialogue.extract_promises(view),
        dialogue.extract_refutations(view),
        extract_facts("\n".join(t.text for t in turns)),
        injections,
    )


def thread_from_inputs(inputs: dict[str, Any], *, text_key: str = "customer_text") -> Thread:
    """The thread a skill was given: ``thread`` turns, else ``messages``, else one customer turn."""
    items = inputs.get("thread") or inputs.get("messages")
    if items:
        return build_thread(list(items))
    text = str(inputs.get(text_key) or inputs.get("text") or "")
    return analyse([Turn(CUSTOMER, text.strip())] if text.strip() else [])


__all__ = [
    "AGENT",
    "CUSTOMER",
    "THREAD_INPUT",
    "TURN",
    "Thread",
    "Turn",
    "analyse",
    "build_thread",
    "prompt_parts",
    "thread_from_inputs",
]

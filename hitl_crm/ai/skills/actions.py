"""``extract_actions``: action items with an owner and a due date when the text states them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils import timezone

from hitl_crm.ai.nlp import facts
from hitl_crm.ai.nlp.text import sentences, wordset
from hitl_crm.ai.prompts import fence, task_prompt
from hitl_crm.ai.schema import PROBABILITY, array, nullable, obj, string
from hitl_crm.ai.skills.base import Skill

ACTION_VERBS = wordset(
    "send email call schedule book update review prepare share follow check confirm ship fix draft set create order "
    "arrange contact refund replace upload sign approve investigate escalate organise organize provide write finish "
    "complete test deploy deliver reply reach circle loop get file submit add remove cancel process look"
)
_NON_ACTIONS = wordset("be have think hope guess feel love like know see wonder")
_SPEAKER_LINE = re.compile(r"^\s*(?P<speaker>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?)\s*:\s+(?P<text>.+)$")
_PERSON = r"(?P<owner>I|We|we|You|you|[A-Z][a-z]+(?: [A-Z][a-z]+)?)"
PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (
        re.compile(
            rf"(?:^|\b){_PERSON}\s*(?:'ll|\s+will|\s+shall|\s+(?:is|are|am) going to)\s+(?:be\s+)?(?P<verb>\w+)"
        ),
        0.9,
    ),
    (re.compile(rf"^(?:action items?:?\s*|todo:?\s*|@)?{_PERSON}\s+to\s+(?P<verb>\w+)"), 0.9),
    (re.compile(r"\b(?P<owner>action items?|todo|to-do|next steps?)\s*[:\-]\s*(?P<verb>\w+)", re.IGNORECASE), 0.8),
    (re.compile(rf"{_PERSON}\s+(?:need|needs|have|has) to\s+(?P<verb>\w+)"), 0.8),
    (re.compile(r"\b(?:can|could|would) (?P<owner>you) (?:please )?(?P<verb>\w+)", re.IGNORECASE), 0.75),
    (re.compile(r"\blet'?s (?P<verb>\w+)", re.IGNORECASE), 0.75),
    (re.compile(r"^(?:please |pls )?(?P<verb>\w+)\b"), 0.6),
)
INPUT_SCHEMA = obj({"text": string(minLength=1), "reference_date": string(), "participants": array(string())}, ["text"])
ACTION = obj(
    {
        "text": string(minLength=1),
        "owner": nullable(string()),
        "due": nullable(string()),
        "due_date": nullable(string()),
        "confidence": PROBABILITY,
    },
    ["text", "owner", "due"],
)
LLM_SCHEMA = obj(
    {
        "actions": array(
            obj(
                {"text": string(minLength=1), "owner": nullable(string()), "due": nullable(string())},
                ["text", "owner", "due"],
            )
        )
    },
    ["actions"],
    extra=True,
)
OUTPUT_SCHEMA = obj(
    {"actions": array(ACTION), "method": string(), "confidence": PROBABILITY}, ["actions", "confidence"], extra=True
)


def check_inputs(inputs: dict[str, Any]) -> list[str]:
    if inputs.get("reference_date"):
        try:
            date.fromisoformat(inputs["reference_date"])
        except ValueError:
            return ["$.reference_date: must be an ISO date such as 2026-03-14"]
    return []


def _today(inputs: dict[str, Any]) -> date:
    return date.fromisoformat(inputs["reference_date"]) if inputs.get("reference_date") else timezone.localdate()


def _owner(raw: str, speaker: str, speakers: list[str]) -> str | None:
    lowered = raw.lower()
    if lowered == "i":
        return speaker or None
    if lowered == "we" or lowered.startswith(("let", "action", "todo", "to-do", "next")):
        return "we" if lowered == "we" else None
    if lowered == "you":
        others = [s for s in speakers if s != speaker]
        return others[0] if len(others) == 1 else None
    return raw


def _due(sentence: str, today: date) -> tuple[str | None, str | None]:
    mentions = [m for m in facts.dates(sentence, today=today) if m.key not in {"yesterday"}]
    if not mentions:
        return None, None
    return mentions[0].text, mentions[0].iso


def offline(inputs: dict[str, Any]) -> dict[str, Any]:
    today = _today(inputs)
    units: list[tuple[str, str]] = []
    for line in inputs["text"].splitlines():
        match = _SPEAKER_LINE.match(line)
        speaker, body = (match.group("speaker"), match.group("text")) if match else ("", line)
        units.extend((speaker, s) for s in sentences(body))
    speakers = list(dict.fromkeys([*(inputs.get("participants") or []), *(s for s, _ in units if s)]))
    actions: list[dict[str, Any]] = []
    for speaker, sentence in units:
        for pattern, confidence in PATTERNS:
            match = pattern.search(sentence.strip())
            if not match:
                continue
            verb = match.group("verb").lower()
            if verb in _NON_ACTIONS or (confidence < 0.75 and verb not in ACTION_VERBS):
                continue
            if confidence >= 0.9 and verb not in ACTION_VERBS and not verb.endswith("ing") and len(verb) < 3:
                continue
            owner_raw = match.groupdict().get("owner") or ""
            owner = _owner(owner_raw, speaker, speakers) if owner_raw else None
            due, due_date = _due(sentence, today)
            actions.append(
                {
                    "text": sentence.strip(),
                    "owner": owner,
                    "due": due,
                    "due_date": due_date,
                    "confidence": round(min(0.95, confidence + (0.05 if due else 0.0)), 3),
                }
            )
            break
    overall = sum(a["confidence"] for a in actions) / len(actions) if actions else 0.6
    return {"actions": actions, "method": "patterns", "confidence": round(overall, 3)}


def build_prompt(inputs: dict[str, Any]) -> str:
    instructions = (
        "List the action items in the document: what is to be done, who owns it (a name, or null when not stated) "
        "and the due date exactly as written (or null). Do not invent owners or dates."
    )
    return task_prompt(instructions, LLM_SCHEMA, fence("document", inputs["text"]))


def finalize(raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    today = _today(inputs)
    actions = []
    for item in raw["actions"]:
        due_date = None
        if item.get("due"):
            mentions = facts.dates(item["due"], today=today)
            due_date = mentions[0].iso if mentions else None
        actions.append({**item, "due_date": due_date, "confidence": 0.7})
    overall = 0.7 if actions else 0.6
    return {"actions": actions, "method": "llm", "confidence": overall}


SKILL = Skill(
    name="extract_actions",
    description="Action items with owner and due date when stated.",
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    llm_output_schema=LLM_SCHEMA,
    prompt_version="extract_actions@1",
    offline_version="action-patterns@1",
    offline=offline,
    build_prompt=build_prompt,
    finalize=finalize,
    generated_texts=lambda output: (
        [a["due"] for a in output["actions"] if a.get("due")] if output.get("method") == "llm" else []
    ),
    grounding_sources=lambda inputs: [inputs["text"]],
    check_inputs=check_inputs,
    noun="The action list",
)

"""The skill registry. ``get_skill(name)`` or :data:`SKILLS`; ``register`` adds one."""

from __future__ import annotations

from hitl_crm.ai.errors import UnknownSkillError
from hitl_crm.ai.skills import actions, copy, drafts, summarize, triage
from hitl_crm.ai.skills.base import Skill

SKILLS: dict[str, Skill] = {
    skill.name: skill
    for skill in (triage.SKILL, summarize.SKILL, drafts.REPLY, drafts.FOLLOWUP, copy.SKILL, actions.SKILL)
}


def get_skill(name: str) -> Skill:
    try:
        return SKILLS[name]
    except KeyError:
        raise UnknownSkillError(f"Unknown skill {name!r}; known skills: {', '.join(sorted(SKILLS))}") from None


def register(skill: Skill) -> None:
    """Add (or replace) a skill, e.g. from another app's ``AppConfig.ready()``."""
    SKILLS[skill.name] = skill


__all__ = ["SKILLS", "Skill", "get_skill", "register"]

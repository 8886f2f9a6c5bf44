"""``copy_variants`` keeps the brief's season, offer and product, invents none, and never repeats itself."""

from __future__ import annotations

import pytest

from hitl_crm.ai.engine import run
from hitl_crm.ai.skills.copy import MAX_SIMILARITY, brief_facts, contradictions, fit_report, similarity
from tests.fakes import Reply

pytestmark = pytest.mark.django_db

#: Briefs a marketer of the demo business writes (also the set the before/after figures use).
BRIEFS: dict[str, dict[str, str]] = {
    "winter": {
        "brief": "Winter is here. Our Summit down parka keeps you warm to -30 °C. 15% off all parkas until January 31.",
        "product": "Summit parka",
        "audience": "Summer camps planning their winter trips",
    },
    "winter-team": {
        "brief": "Winter gear for your team: insulated jackets and thermal gloves keep crews warm. "
        "Order before the holidays.",
        "product": "insulated jackets",
        "audience": "outdoor teams",
    },
    "back-to-school": {
        "brief": "Back to school: sturdy backpacks and lunch boxes for every student. "
        "Bulk orders for schools ship in 3 days.",
        "product": "school backpacks",
        "audience": "teachers",
    },
    "discount": {
        "brief": "Get 25% off all camping stoves this weekend only. Free shipping on orders over $50.",
        "product": "camping stoves",
    },
    "launch": {
        "brief": "Introducing the new Ridgeline 3 hiking boot: waterproof, light and made from recycled materials. "
        "Launching March 1.",
        "product": "Ridgeline 3",
    },
    "autumn-demo": {
        "brief": "Our insulated jackets keep crews warm down to -20 °C and pack into their own pocket. "
        "Bulk orders for the autumn season ship within a week.",
        "product": "insulated jackets",
        "audience": "outdoor teams",
    },
    "spring-sale": {
        "brief": "Our new Trailblazer 2 tent sets up in 3 minutes and keeps you dry in heavy rain. "
        "Spring sale: 20% off until April 30.",
        "product": "Trailblazer 2",
        "audience": "Weekend campers",
    },
}


def variants(name: str, n: int = 5) -> list[str]:
    result = run("copy_variants", {**BRIEFS[name], "n": n})
    assert result.ok, result.error
    return [v["text"] for v in result.output["variants"]]


def test_a_winter_brief_never_gives_summer_copy_even_with_summer_in_the_audience():
    texts = variants("winter", n=8)
    assert texts
    assert not any("summer" in t.lower() for t in texts)  # the audience note said "Summer camps"
    assert any("winter" in t.lower() for t in texts)
    assert any("15% off" in t for t in texts)
    assert any("Summit parka" in t for t in texts)


def test_a_back_to_school_brief_keeps_its_occasion_and_product():
    texts = variants("back-to-school")
    report = fit_report(BRIEFS["back-to-school"]["brief"], "school backpacks", texts)
    assert report["anchors_kept"] == 1.0, report
    assert any("back to school" in t.lower() for t in texts)
    assert not any(w in t.lower() for t in texts for w in ("winter", "summer", "holiday", "% off", "sale"))


def test_a_discount_brief_repeats_its_offer_and_invents_no_other():
    texts = variants("discount")
    assert any("25% off" in t for t in texts)
    assert not any(o in t.lower() for t in texts for o in ("20%", "30%", "half price", "spring", "winter"))
    assert all("camping stoves" in t.lower() or "free shipping" in t.lower() for t in texts)


def test_a_launch_brief_announces_the_product_and_no_season():
    texts = variants("launch")
    assert any("new Ridgeline 3" in t or "Introducing" in t for t in texts)
    facts = brief_facts(BRIEFS["launch"]["brief"], "Ridgeline 3")
    assert facts.seasons == ()
    assert all(contradictions(t, facts) == [] for t in texts)


def test_no_launch_is_announced_when_the_brief_announces_none():
    texts = variants("discount", n=8)
    assert not any(w in t.lower().split() for t in texts for w in ("new", "introducing"))


@pytest.mark.parametrize("name", sorted(BRIEFS))
def test_variants_of_every_brief_fit_it_and_are_no_near_duplicates(name):
    texts = variants(name, n=6)
    assert len(texts) >= 4
    report = fit_report(BRIEFS[name]["brief"], BRIEFS[name]["product"], texts)
    assert report["contradicting"] == []
    assert report["anchors_kept"] == 1.0, report
    assert report["max_similarity"] < MAX_SIMILARITY, texts


def test_similarity_catches_a_reworded_tail_and_a_reorder():
    assert similarity("25% off on camping stoves", "25% off on camping stoves: don't wait") >= MAX_SIMILARITY
    assert similarity("Summit parka: 15% off", "15% off Summit parka") >= MAX_SIMILARITY
    assert similarity("Ready for winter? Meet Summit parka", "Picked for you: Summit parka") < MAX_SIMILARITY


def test_contradictions_name_season_offer_and_product_the_brief_lacks():
    facts = brief_facts("Winter sale: 15% off the Summit parka.", "Summit parka")
    assert contradictions("Summit parka: 15% off this winter", facts) == []
    problems = " | ".join(contradictions("Summer camps planning: 30% off tents", facts))
    assert "summer" in problems
    assert "30% off" in problems
    assert "tent" in problems


def test_llm_variants_that_contradict_the_brief_or_repeat_are_dropped(use_llm):
    fake = use_llm("copy_variants")
    fake.reply(
        Reply.json(
            {
                "variants": [
                    {"text": "Summer camps planning starts now", "style": "urgency"},
                    {"text": "Stay warm this winter in the Summit parka", "style": "benefit"},
                    {"text": "Stay warm this winter in the Summit parka!", "style": "personal"},
                    {"text": "15% off the Summit parka until January 31", "style": "number"},
                    {"text": "Half price tents for winter", "style": "urgency"},
                ]
            }
        )
    )
    result = run("copy_variants", {**BRIEFS["winter"], "n": 5})
    assert result.ok, result.error
    texts = [v["text"] for v in result.output["variants"]]
    assert texts == ["Stay warm this winter in the Summit parka", "15% off the Summit parka until January 31"]
    reasons = {d["text"]: d["reason"] for d in result.output["dropped"]}
    assert "summer" in reasons["Summer camps planning starts now"]
    assert "near-duplicate" in reasons["Stay warm this winter in the Summit parka!"]
    assert "half price" in reasons["Half price tents for winter"].lower()
    # and the prompt told the model what to keep
    assert "the season “winter”" in fake.bodies[0]
    assert "the offer “15% off”" in fake.bodies[0]

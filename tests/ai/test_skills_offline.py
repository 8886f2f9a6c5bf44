"""The offline backend, skill by skill, on small realistic inputs."""

import pytest

from hitl_crm.ai.engine import run
from hitl_crm.ai.errors import AiError, AiInputError, UnknownSkillError
from hitl_crm.ai.models import AiRun
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

KNOWLEDGE = [
    {
        "id": "kb-damaged",
        "title": "Items that arrive damaged",
        "body": "If an item arrives damaged, we send a free replacement part. Replacement parts ship within 5 "
        "business days. You don't need to send the damaged part back.",
    },
    {
        "id": "kb-returns",
        "title": "Returns and refunds",
        "body": "You can return unused items within 30 days. Refunds go to the original payment method once the "
        "return is received. Start a return at https://shop.example/returns.",
    },
    {
        "id": "kb-shipping",
        "title": "Shipping times",
        "body": "Standard shipping takes 3-7 business days. Express shipping takes 1-2 business days.",
    },
]


# --- triage -------------------------------------------------------------------------------------------


def test_triage_reads_an_angry_threatening_message_as_negative_and_high_risk():
    # when
    result = run(
        "triage",
        {
            "subject": "Broken tent AGAIN",
            "text": "This is ridiculous. My order #48213 arrived broken and nobody answers my emails. "
            "Refund me or I'm calling my lawyer and disputing the charge with my bank.",
        },
    )
    # then
    out = result.output
    assert result.ok
    assert out["sentiment"] < -0.5
    assert out["sentiment_label"] == "negative"
    assert out["risk"] == "critical"  # a lawyer and a chargeback together
    assert {f["code"] for f in result.flags} >= {"legal_threat", "chargeback"}
    assert {f["span"] for f in result.flags} >= {"lawyer", "disputing the charge"}
    assert out["language"] == "en"


def test_triage_without_a_trained_model_uses_transparent_keyword_rules():
    result = run("triage", {"text": "Hi, where is my order? It still hasn't arrived and tracking shows nothing."})
    assert result.output["intent"] == "track_order"
    assert result.output["method"] == "rules"
    assert result.output["matched_keywords"]
    assert result.output["risk"] == "low"
    assert 0 < result.confidence < 1


def test_triage_of_a_happy_message_is_positive_and_low_risk():
    result = run(
        "triage", {"text": "Thank you so much, the new jacket fits perfectly and arrived early. Great service!"}
    )
    assert result.output["sentiment"] > 0.5
    assert result.output["risk"] == "low"
    assert result.output["intent"] == "feedback"


def test_triage_flags_a_safety_incident_as_critical():
    result = run("triage", {"text": "The heater sparked and caught fire in my living room, my son was nearly injured."})
    assert result.output["risk"] == "critical"
    assert "safety" in {f["code"] for f in result.flags}


def test_triage_detects_spanish():
    result = run("triage", {"text": "Hola, mi pedido no ha llegado todavía y necesito saber dónde está."})
    assert result.output["language"] == "es"


# --- summarize ----------------------------------------------------------------------------------------

CONVERSATION = [
    {
        "speaker": "customer",
        "text": "Hi, I ordered the Trailblazer 2 tent on March 3 (order #48213) and paid $249.99. "
        "It arrived with a broken pole. Can you send a replacement?",
    },
    {
        "speaker": "agent",
        "text": "I'm sorry to hear that. I can see order #48213 in our system. "
        "We can ship a replacement pole within 5 business days.",
    },
    {"speaker": "customer", "text": "That works. Please ship it to my new address in Denver. Thanks!"},
]


def test_summary_keeps_the_problem_the_resolution_and_the_facts():
    # when
    result = run("summarize", {"messages": CONVERSATION})
    # then
    out = result.output
    assert out["facts"]["order_ids"] == ["48213"]
    assert out["facts"]["amounts"] == [{"text": "$249.99", "value": "249.99", "currency": "USD"}]
    assert "March 3" in out["facts"]["dates"]
    assert out["facts"]["products"] == ["Trailblazer 2"]
    assert "broken pole" in out["summary"]
    assert "replacement pole within 5 business days" in out["summary"]
    assert out["summary"].startswith("Customer: ")
    assert {p["speaker"] for p in out["key_points"]} == {"customer", "agent"}
    assert out["speakers"] == ["customer", "agent"]
    assert result.flags == []  # extractive: nothing invented


def test_summary_of_plain_text_with_speaker_lines_and_a_product_catalogue():
    text = (
        "Customer: My invoice INV-20931 shows 2 x Alpine Fleece but I only ordered one.\n"
        "Agent: You're right, we charged 89.00 EUR twice. I will correct invoice INV-20931 today.\n"
        "Customer: Thank you."
    )
    out = run("summarize", {"text": text, "products": ["Alpine Fleece", "Trailblazer 2"]}).output
    assert out["facts"]["order_ids"] == ["INV-20931"]
    assert out["facts"]["amounts"][0]["currency"] == "EUR"
    assert out["facts"]["products"] == ["Alpine Fleece"]
    assert "Agent:" in out["summary"]


# --- draft_reply --------------------------------------------------------------------------------------


def test_draft_reply_answers_from_the_kb_article_it_cites():
    # when
    result = run(
        "draft_reply",
        {
            "customer_text": "The pole of my tent arrived damaged. Can you send a replacement part?",
            "customer_name": "Maria Gonzalez",
            "agent_name": "Sam",
            "knowledge": KNOWLEDGE,
        },
    )
    # then
    out = result.output
    assert [s["id"] for s in out["sources"]] == ["kb-damaged"]
    assert out["sources"][0]["kind"] == "article"
    assert "we send a free replacement part" in out["body"]
    assert out["body"].startswith("Hi Maria,")
    assert out["body"].rstrip().endswith("Sam")
    assert out["grounding"] == 1.0
    assert result.flags == []
    assert result.risk == "low"
    assert 0.3 < result.confidence < 1


def test_draft_reply_reuses_a_previously_approved_reply_for_the_same_question():
    exemplars = [
        {
            "id": 7,
            "question": "Can I change the delivery address of my order?",
            "reply": "Hi Tom,\n\nYes: open the order in your account and choose Change address before it ships. "
            "I have checked order #55120 for you. "
            "Once it has shipped, the carrier can redirect it for you.\n\nBest,\nLee",
        }
    ]
    out = run(
        "draft_reply",
        {
            "customer_text": "How do I change the delivery address on my order?",
            "exemplars": exemplars,
            "knowledge": KNOWLEDGE,
        },
    ).output
    assert out["sources"][0] == {
        "id": "7",
        "title": exemplars[0]["question"],
        "kind": "exemplar",
        "score": out["sources"][0]["score"],
    }
    assert "choose Change address before it ships" in out["body"]
    assert "Tom" not in out["body"]  # another customer's greeting is not copied
    assert "55120" not in out["body"]  # nor their order number


def test_an_angry_customer_gets_an_apology_first():
    out = run(
        "draft_reply",
        {
            "customer_text": "This is awful, my tent arrived damaged and I'm furious. Send a replacement part now!",
            "knowledge": KNOWLEDGE,
        },
    ).output
    first_lines = out["body"].split("\n\n")[1]
    assert first_lines.startswith("I'm really sorry")


def test_draft_reply_without_relevant_knowledge_hands_over_to_a_person():
    result = run("draft_reply", {"customer_text": "Do you sell gift cards for birthdays?", "knowledge": KNOWLEDGE})
    assert "a member of our team will look into this" in result.output["body"]
    assert result.output["sources"] == []
    assert result.confidence <= 0.1
    assert [f["code"] for f in result.flags] == ["no_grounding"]
    assert result.risk == "medium"


def test_confidence_follows_retrieval_not_a_constant():
    strong = run(
        "draft_reply",
        {"customer_text": "My item arrived damaged, can you send a replacement part?", "knowledge": KNOWLEDGE},
    )
    weak = run(
        "draft_reply",
        {"customer_text": "Parts for the stove, the lid arrived damaged and wet, any idea?", "knowledge": KNOWLEDGE},
    )
    assert strong.confidence > weak.confidence > 0


# --- draft_followup -----------------------------------------------------------------------------------


def test_followup_answers_the_open_question_from_knowledge():
    out = run(
        "draft_followup",
        {
            "lead_name": "Dana Lee",
            "company": "Acme",
            "rep_name": "Sam Ortiz",
            "history": [
                "Demo of the Pro plan on Tuesday went well.",
                "Dana asked: Does the Pro plan include single sign-on?",
            ],
            "knowledge": [
                {
                    "id": "p1",
                    "title": "Pro plan",
                    "body": "The Pro plan includes single sign-on with SAML "
                    "and Google. It also includes priority support.",
                }
            ],
        },
    ).output
    assert out["body"].startswith("Hi Dana,")
    assert "“Does the Pro plan include single sign-on?”" in out["body"]
    assert "includes single sign-on with SAML" in out["body"]
    assert [s["id"] for s in out["sources"]] == ["p1"]
    assert out["body"].rstrip().endswith("Sam Ortiz")


# --- copy_variants ------------------------------------------------------------------------------------

BRIEF = (
    "Our new Trailblazer 2 tent sets up in 3 minutes and keeps you dry in heavy rain. "
    "Spring sale: 20% off until April 30."
)


def test_copy_variants_are_distinct_labelled_and_within_length():
    result = run("copy_variants", {"brief": BRIEF, "product": "Trailblazer 2", "audience": "Weekend campers", "n": 5})
    variants = result.output["variants"]
    assert len(variants) == 5
    assert {v["style"] for v in variants} == {"benefit", "question", "urgency", "personal", "number"}
    assert len({v["text"].lower() for v in variants}) == 5
    assert all(v["length"] == len(v["text"]) <= 60 for v in variants)
    assert any("sets up in 3 minutes" in v["text"] for v in variants)
    assert result.flags == []  # "20% off" comes from the brief, so it is grounded


def test_copy_variants_follow_style_weights_and_invent_no_deadline():
    out = run(
        "copy_variants",
        {
            "brief": "The Trailblazer 2 tent sets up in 3 minutes.",
            "product": "Trailblazer 2",
            "n": 4,
            "kind": "ad",
            "style_weights": {"question": 3, "urgency": 1, "benefit": 0, "personal": 0, "number": 0},
        },
    ).output
    styles = [v["style"] for v in out["variants"]]
    assert styles.count("question") == 3
    assert "benefit" not in styles
    assert not any("ends soon" in v["text"].lower() or "last chance" in v["text"].lower() for v in out["variants"])


def test_style_weights_can_be_learned_from_past_ab_results():
    from hitl_crm.ai.skills.copy import allot, style_weights_from_outcomes

    weights = style_weights_from_outcomes(
        {"question": {"wins": 9, "trials": 10}, "urgency": {"wins": 0, "trials": 10}, "benefit": {}}
    )
    assert weights["question"] > weights["benefit"] > weights["urgency"] > 0
    slots = allot(6, weights)
    assert slots.count("question") > slots.count("urgency")


def test_spam_words_are_reported():
    from hitl_crm.ai.skills.copy import spam_words

    assert set(spam_words("FREE cash, act now!!!")) >= {"free", "cash", "act now", "FREE"}
    assert spam_words("Trailblazer 2 sets up in 3 minutes") == []


# --- extract_actions ----------------------------------------------------------------------------------


def test_actions_have_owners_and_due_dates_when_stated():
    text = (
        "Sam: I'll send the revised quote by Friday.\n"
        "Dana: Great. Can you also share the security whitepaper?\n"
        "Sam: Sure. Priya will schedule the onboarding call next week.\n"
        "We talked about the weather for a while."
    )
    out = run("extract_actions", {"text": text, "reference_date": "2026-03-10"}).output
    actions = {a["text"]: a for a in out["actions"]}
    assert actions["I'll send the revised quote by Friday."]["owner"] == "Sam"
    assert actions["I'll send the revised quote by Friday."]["due_date"] == "2026-03-13"
    assert actions["Can you also share the security whitepaper?"]["owner"] == "Sam"
    assert actions["Priya will schedule the onboarding call next week."]["owner"] == "Priya"
    assert actions["Priya will schedule the onboarding call next week."]["due"] == "next week"
    assert not any("weather" in a for a in actions)


# --- the engine around the skills ---------------------------------------------------------------------


def test_every_run_is_recorded_with_redacted_input_and_linked_to_its_subject():
    # given
    contact = ContactFactory(first_name="Maria", last_name="Gonzalez", email="maria@customer.example")
    # when
    result = run("triage", {"text": "I'm Maria Gonzalez, maria@customer.example, where is my order?"}, subject=contact)
    # then
    saved = AiRun.objects.get(pk=result.run.pk)
    assert saved.subject == contact
    assert saved.status == AiRun.Status.OK
    assert saved.backend == "offline"
    assert saved.prompt_version == "triage-offline@1"
    assert saved.model_name == "rules"
    assert saved.input_redacted == {"text": "I'm [NAME_1], [EMAIL_1], where is my order?"}
    assert saved.output["intent"] == result.output["intent"]
    assert saved.latency_ms > 0
    assert saved.confidence == result.confidence


def test_offline_skills_are_deterministic():
    inputs = {"customer_text": "My item arrived damaged, what now?", "knowledge": KNOWLEDGE}
    assert run("draft_reply", inputs).output == run("draft_reply", inputs).output


@pytest.mark.parametrize(
    ("skill", "inputs", "field"),
    [
        ("triage", {}, "$.text"),
        ("triage", {"text": 42}, "$.text"),
        ("draft_reply", {"customer_text": "hi", "knowledge": [{"title": "no id or body"}]}, "$.knowledge[0].id"),
        ("copy_variants", {"brief": "x", "n": 0}, "$.n"),
        ("copy_variants", {"brief": "x", "style_weights": {"shouting": 2}}, "$.style_weights.shouting"),
        ("summarize", {}, "$.messages or $.text"),
        ("extract_actions", {"text": "x", "reference_date": "next tuesday"}, "$.reference_date"),
    ],
)
def test_programming_mistakes_raise_an_error_naming_the_field(skill, inputs, field):
    with pytest.raises(AiInputError) as excinfo:
        run(skill, inputs)
    assert field in str(excinfo.value)
    assert not AiRun.objects.exists()


def test_the_package_re_exports_the_api_lazily():
    import hitl_crm.ai as ai

    assert ai.run is run
    assert ai.AiError is AiError


def test_unknown_skill_is_a_programming_error():
    with pytest.raises(UnknownSkillError):
        run("write_poem", {"text": "x"})
    assert issubclass(UnknownSkillError, AiError)

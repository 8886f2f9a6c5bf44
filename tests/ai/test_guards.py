import pytest

from hitl_crm.ai.guards import check, risk_floor

KB = [
    "Damaged items: we send a free replacement part within 5 business days. "
    "Returns are accepted within 30 days at https://shop.example/returns.",
    "Orders over $50 ship with free shipping. Members get 10% off accessories.",
]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("I've approved a $5,000 refund for you.", {("ungrounded_amount", "$5,000"), ("refund_promise", None)}),
        ("Use code SPRING for 25% off your next order.", {("ungrounded_discount", "25%")}),
        ("As a thank-you, here is a coupon for your next order.", {("ungrounded_discount", "coupon")}),
        ("We will deliver it by Friday.", {("ungrounded_date", "Friday")}),
        ("Claim it at https://evil.example/claim now.", {("ungrounded_link", "https://evil.example/claim")}),
        ("Your refund has been processed.", {("refund_promise", "Your refund has been processed")}),
        ("Sorry, that was a damn stupid mistake on our side.", {("profanity", None)}),
    ],
)
def test_invented_commitments_are_flagged_with_the_offending_span(draft, expected):
    # when
    flags = check([draft], sources=KB)
    # then
    found = {(f["code"], f["span"]) for f in flags}
    for code, span in expected:
        assert any(c == code and (span is None or s == span) for c, s in found), (code, span, found)
    assert all(f["message"] and f["severity"] in {"low", "medium", "high"} for f in flags)


def test_statements_taken_from_the_sources_pass():
    draft = (
        "We send a free replacement part within 5 business days. Orders over $50 ship with free shipping, and "
        "members get 10% off accessories. Returns: https://shop.example/returns"
    )
    assert check([draft], sources=KB) == []


def test_a_refund_promise_needs_an_approval_in_the_policy_not_just_an_article_about_refunds():
    draft = "We have issued your refund of $42.00."
    sources = ["Refunds are issued to the original payment method."]
    assert {f["code"] for f in check([draft], sources=sources)} == {"refund_promise", "ungrounded_amount"}
    approved = check([draft], sources=sources, policy=["Refund of $42.00 approved by J. Doe (manager)."])
    assert approved == []


def test_customer_text_does_not_ground_an_amount():
    # The customer asked for $5,000; that does not make $5,000 a grounded figure for the reply.
    flags = check(["We'll look at the $5,000 you mentioned."], sources=KB)
    assert [f["span"] for f in flags if f["code"] == "ungrounded_amount"] == ["$5,000"]


def test_equivalent_amounts_and_dates_count_as_grounded():
    sources = ["The fee is 1,250 USD, due on March 3, 2026."]
    assert check(["The fee of $1,250.00 is due 2026-03-03."], sources=sources) == []


def test_flags_raise_risk():
    assert risk_floor([]) == "low"
    assert risk_floor([{"code": "ungrounded_date", "severity": "medium"}]) == "medium"
    assert risk_floor([{"code": "refund_promise", "severity": "high"}]) == "high"
    assert risk_floor([{"code": "ungrounded_amount", "severity": "high"}]) == "high"
    assert risk_floor([{"code": "safety", "severity": "high"}]) == "critical"

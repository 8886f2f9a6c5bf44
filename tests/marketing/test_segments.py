"""Segment rules select the right contacts, in one SQL query, and explain bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hitl_crm.contacts.models import Contact
from marketing.models import ContactScore, Segment, Suppression
from marketing.segments import describe_rule, normalise_rules
from marketing.selectors import audience_queryset, segment_counts, segment_queryset, segments_with_counts
from tests.factories import AccountFactory, ActivityFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(db):
    """A small customer base with one distinguishing trait per contact."""
    now = timezone.now()
    vip = AccountFactory(tier="vip", industry="Tourism", employees=300, country="NO")
    small = AccountFactory(tier="standard", industry="Retail", employees=12, country="US")
    people = {
        "loyal": ContactFactory(account=vip, attributes={"plan": "pro", "tenure_months": 48}),
        "new": ContactFactory(account=small, attributes={"plan": "basic", "tenure_months": 2}),
        "buyer": ContactFactory(account=small, attributes={"plan": "plus", "tenure_months": "14"}),
        "quiet": ContactFactory(account=vip, attributes={}, email_consent=False),
    }
    for _ in range(3):
        ActivityFactory(contact=people["buyer"], kind="purchase", occurred_at=now - timedelta(days=10))
    ActivityFactory(contact=people["loyal"], kind="purchase", occurred_at=now - timedelta(days=200))
    Contact.objects.filter(pk=people["quiet"].pk).update(last_activity_at=now - timedelta(days=400))
    Contact.objects.filter(pk=people["buyer"].pk).update(last_activity_at=now - timedelta(days=10))
    ContactScore.objects.create(contact=people["new"], kind="churn", value=0.82, model_version=1)
    ContactScore.objects.create(contact=people["loyal"], kind="churn", value=0.08, model_version=1)
    ContactScore.objects.create(contact=people["buyer"], kind="propensity", value=0.71, model_version=1)
    return people


def names(crm, rules) -> set[str]:
    ids = set(segment_queryset(normalise_rules(rules)).values_list("pk", flat=True))
    return {name for name, contact in crm.items() if contact.pk in ids}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([{"field": "account.tier", "op": "in", "value": ["vip", "premium"]}], {"loyal", "quiet"}),
        ([{"field": "account.tier", "op": "ne", "value": "vip"}], {"new", "buyer"}),
        ([{"field": "account.employees", "op": "gte", "value": "100"}], {"loyal", "quiet"}),
        ([{"field": "account.industry", "op": "contains", "value": "tour"}], {"loyal", "quiet"}),
        ([{"field": "attributes.plan", "op": "eq", "value": "pro"}], {"loyal"}),
        ([{"field": "attributes.plan", "op": "in", "value": "plus, pro"}], {"loyal", "buyer"}),
        # numeric comparisons take JSON numbers only ("14" is text), the same on SQLite and PostgreSQL
        ([{"field": "attributes.tenure_months", "op": "lt", "value": "10"}], {"new"}),
        ([{"field": "attributes.tenure_months", "op": "gte", "value": "10"}], {"loyal"}),
        ([{"field": "attributes.tenure_months", "op": "eq", "value": "14"}], {"buyer"}),  # stored as text
        ([{"field": "attributes.plan", "op": "exists"}], {"loyal", "new", "buyer"}),
        ([{"field": "activity.purchase", "op": "gte", "value": 1, "days": 30}], {"buyer"}),
        ([{"field": "activity.purchase", "op": "gte", "value": 3, "days": 30}], {"buyer"}),
        ([{"field": "activity.purchase", "op": "gte", "value": 4, "days": 30}], set()),
        ([{"field": "activity.purchase", "op": "gte", "value": 1, "days": 365}], {"loyal", "buyer"}),
        ([{"field": "activity.purchase", "op": "eq", "value": 0, "days": 90}], {"loyal", "new", "quiet"}),
        ([{"field": "score.churn", "op": "gte", "value": 0.6}], {"new"}),
        ([{"field": "score.churn", "op": "lte", "value": 0.2}], {"loyal"}),
        ([{"field": "score.propensity", "op": "gte", "value": "0.5"}], {"buyer"}),
        ([{"field": "contact.last_activity_days", "op": "gte", "value": 365}], {"quiet", "loyal", "new"}),
        ([{"field": "contact.last_activity_days", "op": "lte", "value": 30}], {"buyer"}),
        (
            [
                {"field": "account.tier", "op": "eq", "value": "vip"},
                {"field": "score.churn", "op": "lte", "value": 0.5},
            ],
            {"loyal"},
        ),
        ([], {"loyal", "new", "buyer", "quiet"}),
    ],
)
def test_rules_select_the_expected_contacts(crm, rules, expected):
    assert names(crm, rules) == expected


def test_counting_a_segment_is_one_query(crm, django_assert_num_queries):
    rules = normalise_rules(
        [
            {"field": "account.tier", "op": "in", "value": ["vip", "standard"]},
            {"field": "attributes.plan", "op": "exists"},
            {"field": "activity.purchase", "op": "lte", "value": 5, "days": 90},
            {"field": "score.churn", "op": "lte", "value": 0.9},
        ]
    )
    # one SELECT with COUNT(*) and a filtered COUNT for the reachable part
    with django_assert_num_queries(1):
        counts = segment_counts(rules=rules)
    assert counts == {"matching": 2, "reachable": 2}


def test_reachable_excludes_unconsented_unsubscribed_and_suppressed(crm):
    Suppression.objects.create(email=crm["new"].email.upper().lower())
    reachable = set(audience_queryset([]).values_list("pk", flat=True))
    assert reachable == {crm["loyal"].pk, crm["buyer"].pk}


def test_many_segments_are_counted_in_one_query(crm, marketer, django_assert_num_queries):
    segments = [
        Segment.objects.create(name="VIP", rules=[{"field": "account.tier", "op": "eq", "value": "vip"}]),
        Segment.objects.create(name="At risk", rules=[{"field": "score.churn", "op": "gte", "value": 0.5}]),
        Segment.objects.create(name="All", rules=[]),
    ]
    assert marketer.has_perm("contacts.view_contact")  # (loads the permission cache, as any page has)
    with django_assert_num_queries(1):
        counted = segments_with_counts(user=marketer, segments=segments)
    assert [(s.name, m, r) for s, m, r in counted] == [("VIP", 2, 1), ("At risk", 1, 1), ("All", 4, 3)]


@pytest.mark.parametrize(
    ("rules", "where", "message"),
    [
        ([{"field": "nope", "op": "eq", "value": 1}], "rules[0].field", "Unknown field"),
        ([{"field": "score.churn", "op": "gte", "value": 1.5}], "rules[0].value", "between 0 and 1"),
        ([{"field": "score.churn", "op": "contains", "value": 0.5}], "rules[0].op", "does not apply"),
        ([{"field": "account.tier", "op": "eq", "value": "gold"}], "rules[0].value", "Choose from"),
        ([{"field": "attributes.bad key!", "op": "eq", "value": 1}], "rules[0].field", "letters"),
        ([{"field": "attributes", "op": "eq", "value": 1}], "rules[0].field", "Name the attribute"),
        ([{"field": "activity.purchase", "op": "gte", "value": "many"}], "rules[0].value", "Enter a number"),
        ("not a list", "rules", "Expected a list"),
    ],
)
def test_bad_rules_are_explained(rules, where, message):
    with pytest.raises(ValidationError) as info:
        normalise_rules(rules)
    assert message in " ".join(info.value.message_dict[where])


def test_rules_read_like_sentences():
    assert describe_rule({"field": "score.churn", "op": "gte", "value": 0.6}) == "Churn risk (0–1) at least 0.6"
    assert describe_rule({"field": "activity.purchase", "op": "gte", "value": 2, "days": 30}) == (
        "Purchase: at least 2 in the last 30 days"
    )
    assert describe_rule({"field": "attributes.plan", "op": "in", "value": ["pro", "plus"]}) == (
        "Attribute “plan” is one of pro, plus"
    )

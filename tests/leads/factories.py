"""factory-boy factories for leads tests."""

import factory
from django.utils import timezone

from leads.models import Lead, LeadEvent, ScoringRule


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@prospect.example")
    company = factory.Sequence(lambda n: f"Prospect Co {n}")
    source = "Web form"
    employees = 50
    status = Lead.Status.NEW


class LeadEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadEvent

    lead = factory.SubFactory(LeadFactory)
    kind = LeadEvent.Kind.SITE_VISIT
    occurred_at = factory.LazyFunction(timezone.now)
    source = "test"


class ScoringRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    target = ScoringRule.Target.FIELD
    path = "source"
    operator = ScoringRule.Operator.EQ
    value = "Referral"
    points = 10

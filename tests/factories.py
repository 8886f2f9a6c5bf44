"""factory-boy factories shared by every test package."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from hitl_crm.contacts.models import Account, Activity, Contact


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def roles(self, create: bool, extracted, **kwargs) -> None:
        for role in extracted or []:
            self.groups.add(Group.objects.get(name=role))


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = "Retail"
    employees = 50
    country = "US"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@customer.example")
    title = "Buyer"
    email_consent = True


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    contact = factory.SubFactory(ContactFactory)
    kind = Activity.Kind.NOTE
    summary = factory.Faker("sentence")
    source = "test"

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from hitl_crm.contacts.models import Account, Activity, Contact

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, ...]:
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Activity.objects.count(),
        get_user_model().objects.count(),
    )


def test_seed_demo_builds_a_business_with_one_login_per_role(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    accounts, contacts, activities, users = snapshot()
    assert accounts >= 20
    assert 140 <= contacts <= 200
    assert activities >= contacts * 2
    for username, role in [
        ("sam", "Sales rep"),
        ("sue", "Support agent"),
        ("mia", "Marketer"),
        ("max", "Manager"),
        ("ada", "Admin"),
    ]:
        assert username in out
        assert get_user_model().objects.get(username=username).groups.filter(name=role).exists()
    assert "demo-pass-2026" in out


def test_running_seed_demo_twice_changes_nothing():
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from hitl_crm.contacts.models import Account, Activity, Contact

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, ...]:
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Activity.objects.count(),
        get_user_model().objects.count(),
    )


def test_seed_demo_builds_a_business_with_one_login_per_role(capsys, settings):
    settings.DEBUG = True  # as `make demo` runs it
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
    call_command("seed_demo", force=True)
    first = snapshot()
    call_command("seed_demo", force=True)
    assert snapshot() == first


def test_seed_demo_refuses_to_create_published_logins_with_debug_off(settings):
    # given: a production-like configuration
    settings.DEBUG = False
    # when / then: no superuser with the published password appears
    with pytest.raises(CommandError, match="DEBUG=true.*--force"):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(username="ada").exists()
    assert snapshot() == (0, 0, 0, 0)


def test_seed_demo_with_force_runs_with_debug_off(settings):
    settings.DEBUG = False
    call_command("seed_demo", force=True)
    assert get_user_model().objects.get(username="ada").is_superuser


def test_the_demo_history_is_carried_out_at_once_even_with_an_undo_window(settings, monkeypatch):
    from approvals.models import ApprovalRequest

    settings.HITL_CRM_APPROVALS_UNDO_SECONDS = 10  # the default outside tests
    timers: list[int] = []
    monkeypatch.setattr("approvals.services._execute_later", lambda pk, delay: timers.append(pk))
    call_command("seed_demo", force=True)
    assert timers == []  # no delayed execution would outlive the command
    left = ApprovalRequest.objects.filter(status__in=["approved", "executing"])
    assert not left.exists()
    assert ApprovalRequest.objects.filter(status="executed").count() >= 100

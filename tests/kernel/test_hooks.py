"""hitl_crm.hooks: one loader reads what the installed apps declare on their AppConfig."""

import pytest
from django.test import override_settings

from hitl_crm.accounts.roles import role_permission_codes
from hitl_crm.hooks import HOOKS, app_hooks
from hitl_crm.web.navigation import nav_items

BASE_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]


def test_the_loader_finds_each_apps_hooks():
    # when
    found = {name: [hook.app.label for hook in app_hooks(name)] for name in HOOKS}

    # then: the feature apps' declarations, in INSTALLED_APPS order
    assert {"approvals", "leads", "service", "marketing"} <= set(found["dashboard_stats"])
    assert "marketing" in found["contact_badges"]
    assert {"contacts", "approvals", "leads", "service", "marketing"} <= set(found["role_permissions"])
    assert {"contacts", "approvals", "leads"} <= set(found["seed_demo"])
    assert "leads" in found["nav"]
    leads = next(hook for hook in app_hooks("dashboard_stats") if hook.app.label == "leads")
    assert leads.value.__self__ is leads.app  # a bound method, ready to call


def test_an_app_without_hooks_is_skipped():
    # contacts declares roles and demo data but no dashboard figures
    assert "contacts" not in [hook.app.label for hook in app_hooks("dashboard_stats")]


@override_settings(
    INSTALLED_APPS=[
        *BASE_APPS,
        "tests.kernel.hookapps.WithoutHooksConfig",
        "tests.kernel.hookapps.WithHooksConfig",
    ]
)
def test_the_loader_follows_the_installed_apps():
    # then: only the apps installed now; the one without hooks is skipped
    assert [hook.app.label for hook in app_hooks("dashboard_stats")] == ["kernel_with_hooks"]
    assert [hook.value(None) for hook in app_hooks("dashboard_stats")] == [
        [{"label": "Kernel figure", "value": 7, "url": ""}]
    ]
    assert app_hooks("contact_badges") == []
    assert role_permission_codes()["Sales rep"] == {"auth.view_user"}


def test_after_an_override_the_real_apps_are_back():
    # given: the loader answered for another set of apps
    with override_settings(INSTALLED_APPS=[*BASE_APPS, "tests.kernel.hookapps.WithoutHooksConfig"]):
        assert app_hooks("role_permissions") == []

    # then
    assert "leads" in [hook.app.label for hook in app_hooks("role_permissions")]


@override_settings(
    INSTALLED_APPS=[*BASE_APPS, "tests.kernel.hookapps.WithHooksConfig"], ROOT_URLCONF="tests.kernel.hookapps"
)
def test_the_navigation_shows_a_declared_page_greyed_out_until_its_url_exists():
    # given
    user = type("Anyone", (), {"has_perm": lambda self, perm: True})()

    # when
    items = {item.label: item for item in nav_items(user)}

    # then
    assert items["Kernel page"].url is None
    assert items["Kernel page"].order == 5


@override_settings(INSTALLED_APPS=[*BASE_APPS, "tests.kernel.hookapps.UnknownRoleConfig"])
def test_a_role_that_does_not_exist_is_an_error():
    with pytest.raises(ValueError, match="kernel_unknown_role.role_permissions names unknown role 'Astronaut'"):
        role_permission_codes()


def test_an_unknown_hook_name_is_an_error():
    with pytest.raises(ValueError, match="Unknown app hook 'navigation'"):
        app_hooks("navigation")

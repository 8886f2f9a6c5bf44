"""Two tiny apps for the hook loader's tests: one declares hooks, the other none."""

from __future__ import annotations

from django.apps import AppConfig

# An empty URLconf: with only these apps installed, no page exists.
urlpatterns: list = []


class WithHooksConfig(AppConfig):
    name = "tests.kernel"
    label = "kernel_with_hooks"
    nav = [{"label": "Kernel page", "url_name": "kernel:nowhere", "order": 5}]
    role_permissions = {"Sales rep": ["auth.view_user"]}

    def dashboard_stats(self, user) -> list[dict]:
        return [{"label": "Kernel figure", "value": 7, "url": ""}]


class WithoutHooksConfig(AppConfig):
    name = "tests.kernel.hookapps"
    label = "kernel_without_hooks"


class UnknownRoleConfig(AppConfig):
    name = "tests.kernel.hookapps"
    label = "kernel_unknown_role"
    role_permissions = {"Astronaut": ["auth.view_user"]}

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from hitl_crm.accounts.roles import ADMIN, MANAGER, MARKETER, ROLES, SALES_REP, SUPPORT_AGENT, roles_ensure
from tests.factories import UserFactory

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def require_service(available: bool, reason: str) -> None:
    """Skip on a developer machine without the service; on CI a missing service is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — CI must provide it (never a silent skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def roles(db) -> None:
    if Group.objects.filter(name__in=ROLES).count() != len(ROLES):
        roles_ensure()


@pytest.fixture
def make_user(roles):
    def make(*role_names: str, **kwargs):
        return UserFactory(roles=list(role_names), **kwargs)

    return make


@pytest.fixture
def sales_rep(make_user):
    return make_user(SALES_REP, username="rep")


@pytest.fixture
def support_agent(make_user):
    return make_user(SUPPORT_AGENT, username="agent")


@pytest.fixture
def marketer(make_user):
    return make_user(MARKETER, username="marketer")


@pytest.fixture
def manager(make_user):
    return make_user(MANAGER, username="manager", is_staff=True)


@pytest.fixture
def admin_user(make_user):
    return make_user(ADMIN, username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def nobody(make_user):
    """A signed-in user with no role at all."""
    return make_user(username="nobody")

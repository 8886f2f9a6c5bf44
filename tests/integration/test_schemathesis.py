"""The whole API against its own OpenAPI schema, with generated requests (schemathesis).

Runs on PostgreSQL through the WSGI application (no server process), authenticated with an
admin's API token, a bounded number of examples per operation. Every response must be a
non-5xx answer whose status, content type, headers and body the schema documents.

    CI=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \
        .venv/bin/pytest -p no:xdist -q tests/integration/test_schemathesis.py

prints the operations and examples run and the slowest operations.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hitl_crm.accounts.services import api_token_create
from tests.conftest import require_service
from tests.factories import AccountFactory, ActivityFactory, ContactFactory, UserFactory

pytestmark = pytest.mark.integration

# Generated examples per operation: enough to find crashes and schema drift, small enough for
# < 2 minutes. SCHEMATHESIS_COVERAGE=true adds schemathesis' coverage phase (boundary values and
# wrong types for every parameter: ~4,400 more requests, about twice the time).
MAX_EXAMPLES = 20
COVERAGE = os.environ.get("SCHEMATHESIS_COVERAGE", "").lower() in {"1", "true", "yes"}
# No 5xx, and every answer as documented. Left out: positive_data_acceptance and
# negative_data_rejection. The first counts a 400 for a well-formed id of an object that does not
# exist (``?case=0``, ``{"campaign": 0}``) as a failure; the second a request DRF reads leniently
# (``?page_size=null`` falls back to the default page size) as one.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

_EXAMPLES: Counter[str] = Counter()
_SECONDS: Counter[str] = Counter()

# The schema /api/schema/ serves, generated in-process at collection (no database needed);
# every request then goes through the WSGI application.
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": COVERAGE}}}),
)
schema.app = WSGIHandler()


def _business() -> None:
    """A few rows of each kind, so list and detail endpoints answer with real objects too."""
    for account in AccountFactory.create_batch(3):
        for contact in ContactFactory.create_batch(2, account=account):
            ActivityFactory(contact=contact)
    ContactFactory(account=None, email="", first_name="Walk-in")  # optional fields left empty


@pytest.fixture
def auth_headers(db, settings) -> Iterator[dict[str, str]]:
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://…")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the host schemathesis' WSGI client sends
    _business()
    # An admin (superuser) reaches every operation; built without the role groups to keep each test short.
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    _, key = api_token_create(user=admin, name="schemathesis")
    # As Django's test client does: the test's connection (and its transaction) stays open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Token {key}"}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module", autouse=True)
def _report(request) -> Iterator[None]:
    """The figures: operations, examples and the slowest operations (in the terminal summary)."""
    yield
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not _EXAMPLES or terminal is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        terminal.write_line("")
        terminal.write_line(f"schemathesis: {len(_EXAMPLES)} operations, {sum(_EXAMPLES.values())} examples")
        for label, seconds in _SECONDS.most_common(5):
            terminal.write_line(f"  {seconds:6.2f} s  {label}")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
def test_api_conforms_to_its_schema(case, auth_headers):
    _EXAMPLES[case.operation.label] += 1
    started = time.perf_counter()
    try:
        case.call_and_validate(headers=auth_headers, checks=CHECKS)
    finally:
        _SECONDS[case.operation.label] += time.perf_counter() - started

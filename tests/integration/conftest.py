import pytest
from django.db import connection

from tests.celery_worker import redis_reachable
from tests.conftest import require_service


@pytest.fixture
def real_services(transactional_db):
    """PostgreSQL + Redis, or a skip on a laptop without them (a failure on CI)."""
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://…")
    require_service(redis_reachable(), "needs Redis on 127.0.0.1:6379")

"""The queue-ranks migration on a table that already has requests (PostgreSQL): it fills the new
order columns and builds its indexes, where one transaction failed with "cannot CREATE INDEX …
because it has pending trigger events"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from approvals.models import ApprovalRequest
from tests.conftest import require_service

BEFORE, AFTER = ("approvals", "0005_undo_window"), ("approvals", "0006_queue_ranks")


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_ranks_of_existing_requests_and_builds_its_indexes(make_email_request):
    require_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")
    late, calm = make_email_request(), make_email_request()
    ApprovalRequest.objects.filter(pk=late.pk).update(risk="critical", due_at=timezone.now() - timedelta(hours=1))
    try:
        _migrate(BEFORE)  # the columns go; the rows stay
        _migrate(AFTER)
    finally:
        _migrate(("approvals", "0006_queue_ranks"))
    ranks = dict(ApprovalRequest.objects.values_list("pk", "risk_rank"))
    overdue = dict(ApprovalRequest.objects.values_list("pk", "overdue_rank"))
    assert (ranks[late.pk], overdue[late.pk]) == (0, 0)
    assert (ranks[calm.pk], overdue[calm.pk]) == (3, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'approvals_approvalrequest'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"approvals_pending_priority", "approvals_pending_by_risk"} <= names

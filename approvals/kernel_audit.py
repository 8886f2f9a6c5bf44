"""The audit trail of kernel writes: contact and account edits.

The kernel may not import ``approvals``, so its write services send
``hitl_crm.contacts.signals.record_changed`` inside their transaction and this receiver appends
the audit event in that same transaction (both commit, or neither does). The connection is
made when this module is imported, which ``ApprovalsConfig.ready()`` does (``dispatch_uid``
keeps it to one connection however often it is imported).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import models

from approvals.audit import audit_record
from hitl_crm.contacts.signals import record_changed


def audit_record_changed(
    sender: type[models.Model],
    *,
    actor: User | None,
    target: models.Model,
    verb: str,
    before: dict[str, Any],
    after: dict[str, Any],
    **kwargs: Any,
) -> None:
    """``record_changed`` receiver: one audit event with the fields before and after."""
    audit_record(verb=verb, actor=actor, target=target, data={"before": before, "after": after})


record_changed.connect(audit_record_changed, dispatch_uid="approvals.kernel_audit.record_changed")

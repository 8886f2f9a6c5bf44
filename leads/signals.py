"""What leads do when the contacts kernel changes a record (``hitl_crm.contacts.signals``).

A lead is found by its linked account's name (``Lead.search_text``), so renaming an account
refreshes the text of that account's leads, in the rename's own transaction: one ``UPDATE``, not a
save per lead. Connected by ``LeadsConfig.ready()`` through ``connect()``.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from hitl_crm.contacts.models import Account
from hitl_crm.contacts.signals import record_changed
from leads.models import Lead, lead_search_expression


def refresh_search_text_on_account_rename(
    sender: type[models.Model], *, target: models.Model, after: dict[str, Any], **kwargs: Any
) -> None:
    """``record_changed`` receiver: an account's new name is what its leads are found by."""
    if sender is Account and "name" in after:
        Lead.objects.filter(account_id=target.pk).update(search_text=lead_search_expression())


def connect() -> None:
    record_changed.connect(
        refresh_search_text_on_account_rename, dispatch_uid="leads.signals.refresh_search_text_on_account_rename"
    )

"""Every change to the shop's data goes through here.

The services live by sub-domain and are all importable from here:

* ``orders`` — orders in from a CSV file.

One way to refuse: write services take ``actor`` and check it with
:func:`hitl_crm.permissions.require_permission` (``PermissionDenied``: 403 in the API, the 403
page in the UI). There are no system entry points yet: every service needs an actor.
"""

from __future__ import annotations

from commerce.services.orders import IMPORT_PERMISSION, OrderImportResult, RowError, orders_import_csv

__all__ = ["IMPORT_PERMISSION", "OrderImportResult", "RowError", "orders_import_csv"]

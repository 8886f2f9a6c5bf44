"""Documented hooks of the contacts kernel.

``record_changed`` is sent by the contact and account write services **inside** the transaction
that changed the record, after the row was saved, with ``sender`` the model class and the
keyword arguments:

``actor``
    the ``User`` who made the change;
``target``
    the changed ``Contact`` or ``Account``;
``verb``
    what happened, e.g. ``"contact.updated"`` or ``"account.updated"``;
``before``, ``after``
    ``{field: value}`` of the changed fields only, as JSON-ready values (a related user or
    account is ``{"id": …, "name": …}`` or ``None``; tags are a list of strings).

The kernel cannot import ``approvals``; this is how the audit trail (``approvals.kernel_audit``)
learns of kernel writes. Because a receiver runs in the same transaction, an exception it raises
undoes the change: an edit that cannot be audited is not made. Receivers that only need to react
after the commit should use ``transaction.on_commit`` themselves.
"""

from django.dispatch import Signal

record_changed = Signal()

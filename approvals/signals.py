"""Decoupled hooks for feature apps (e.g. re-draft after "request changes").

``approval_status_changed`` is sent after the transaction that changed the status has
committed, with ``sender=ApprovalRequest`` and the keyword arguments ``request_id``,
``action``, ``old`` and ``new`` (status values). Receivers must not assume they run in
the same process as the change (tasks run in workers).
"""

from django.dispatch import Signal

approval_status_changed = Signal()

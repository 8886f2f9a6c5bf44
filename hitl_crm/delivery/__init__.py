"""The outbound-delivery kernel: every external effect (mail, refunds) goes through here.

A :class:`~hitl_crm.delivery.models.Delivery` is committed as ``prepared`` before the effect,
``sending`` (committed) right before it, and ``sent`` / ``failed`` right after, each in its own
transaction and with no row lock held while the outside system works. A ``sending`` delivery
whose worker died becomes ``unknown`` and goes to a person ("possibly sent"); it is never
resent on its own. ``EmlFileBackend`` stays importable here because settings name it.
"""

from hitl_crm.delivery.backends import EmlFileBackend

__all__ = ["EmlFileBackend"]

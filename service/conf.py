"""Lazy app settings for the service desk (read on access, so ``override_settings`` works).

Every setting is optional; ``service.checks`` validates the values at start-up.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


class _Settings:
    @property
    def PAYMENT_GATEWAY(self) -> str:
        """Dotted path of the :class:`service.gateways.PaymentGateway` that issues approved refunds."""
        return getattr(settings, "HITL_CRM_SERVICE_PAYMENT_GATEWAY", "service.gateways.LedgerGateway")

    @property
    def FROM_EMAIL(self) -> str:
        """The sender of replies to customers (defaults to ``DEFAULT_FROM_EMAIL``)."""
        return getattr(settings, "HITL_CRM_SERVICE_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL

    @property
    def SLA_HOURS(self) -> int:
        """Hours a customer may wait for an answer before the inbox shows the case as overdue."""
        return getattr(settings, "HITL_CRM_SERVICE_SLA_HOURS", 24)

    @property
    def UPSET_BELOW(self) -> float:
        """A sentiment score at or below this counts as an upset customer: the reply goes to a manager.

        VADER scores plain problem reports ("the zip broke") mildly negative; routing every one of
        them to a manager would drown managers, so "upset" means clearly negative by default.
        """
        return float(getattr(settings, "HITL_CRM_SERVICE_UPSET_BELOW", -0.5))

    @property
    def REFUND_WINDOW_DAYS(self) -> int:
        """Refund policy: orders older than this are outside the refund window."""
        return getattr(settings, "HITL_CRM_SERVICE_REFUND_WINDOW_DAYS", 30)

    @property
    def REFUND_POLICY_LIMIT(self) -> Decimal:
        """Refund policy: the largest refund the AI may recommend approving; above it, escalate."""
        return Decimal(str(getattr(settings, "HITL_CRM_SERVICE_REFUND_POLICY_LIMIT", "500")))

    @property
    def REFUND_MAX_PRIOR(self) -> int:
        """Refund policy: refunds a contact may have had in the last 12 months before we escalate."""
        return getattr(settings, "HITL_CRM_SERVICE_REFUND_MAX_PRIOR", 2)

    @property
    def DEFAULT_CURRENCY(self) -> str:
        """Currency of a refund ask that names none."""
        return getattr(settings, "HITL_CRM_SERVICE_DEFAULT_CURRENCY", "USD")

    @property
    def KNOWLEDGE_TOP_K(self) -> int:
        """Knowledge articles suggested per case (and handed to the drafting skill)."""
        return getattr(settings, "HITL_CRM_SERVICE_KNOWLEDGE_TOP_K", 4)

    @property
    def EXEMPLARS(self) -> int:
        """Previously approved replies (same intent, newest first) handed to the drafting skill."""
        return getattr(settings, "HITL_CRM_SERVICE_EXEMPLARS", 20)

    @property
    def MAX_INBOUND_BYTES(self) -> int:
        """Larger inbound messages are reported as malformed instead of being stored."""
        return getattr(settings, "HITL_CRM_SERVICE_MAX_INBOUND_BYTES", 2_000_000)


app_settings = _Settings()

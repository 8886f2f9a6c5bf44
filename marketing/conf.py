"""Lazy app settings for marketing (read on access, so ``override_settings`` works).

Every setting is optional; ``marketing.checks`` validates the values at start-up.
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings


class _Settings:
    @property
    def SITE_URL(self) -> str:
        """Absolute base URL of the tracking and unsubscribe links in campaign emails (https in production)."""
        return getattr(settings, "HITL_CRM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

    @property
    def FROM_EMAIL(self) -> str:
        """Sender of campaign emails (defaults to ``DEFAULT_FROM_EMAIL``)."""
        return getattr(settings, "HITL_CRM_MARKETING_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL

    @property
    def UNSUBSCRIBE_MAILTO(self) -> str:
        """Mailbox of the ``mailto:`` entry of List-Unsubscribe (default: unsubscribe@ the sender's domain)."""
        configured = getattr(settings, "HITL_CRM_MARKETING_UNSUBSCRIBE_MAILTO", "")
        if configured:
            return configured
        domain = parseaddr(self.FROM_EMAIL)[1].rpartition("@")[2] or "hitl-crm.invalid"
        return f"unsubscribe@{domain}"

    @property
    def BATCH_SIZE(self) -> int:
        """Messages per dispatch task. Smaller batches spread over more workers; larger ones cost fewer tasks."""
        return int(getattr(settings, "HITL_CRM_MARKETING_BATCH_SIZE", 500))

    @property
    def SEND_RATE(self) -> float:
        """Most messages per second one worker process hands to the mail backend (0 = no limit).

        ESPs throttle senders (and new sending domains must warm up); this keeps each worker
        under the provider's limit instead of collecting deferrals.
        """
        return float(getattr(settings, "HITL_CRM_MARKETING_SEND_RATE", 0))

    @property
    def SEND_LEASE_SECONDS(self) -> int:
        """A message claimed for longer than this without being marked sent belongs to a dead worker.

        Must exceed the mail backend's timeout. On PostgreSQL a dead worker is recognised at
        once (its advisory lock is gone); the lease is the fallback elsewhere.
        """
        return int(getattr(settings, "HITL_CRM_MARKETING_SEND_LEASE_SECONDS", 600))

    @property
    def MAX_VARIANTS(self) -> int:
        """Most variants one A/B test may compare (more arms need more recipients per answer)."""
        return int(getattr(settings, "HITL_CRM_MARKETING_MAX_VARIANTS", 4))

    @property
    def ALPHA(self) -> float:
        """Significance level of the A/B tests (two-sided)."""
        return float(getattr(settings, "HITL_CRM_MARKETING_ALPHA", 0.05))

    @property
    def CLICK_REF_PARAM(self) -> str:
        """Query parameter added to click-through destinations carrying the conversion token ("" = none).

        The partner's site posts it back to ``/api/v1/conversions/`` to credit the send.
        """
        return getattr(settings, "HITL_CRM_MARKETING_CLICK_REF_PARAM", "hc_ref")

    @property
    def CHURN_LABEL_ATTRIBUTE(self) -> str:
        """Contact attribute that says a customer has churned (true/yes/1) — the churn model's label."""
        return getattr(settings, "HITL_CRM_MARKETING_CHURN_LABEL_ATTRIBUTE", "churned")

    @property
    def PROPENSITY_HORIZON_DAYS(self) -> int:
        """Next-purchase propensity predicts a purchase within this many days."""
        return int(getattr(settings, "HITL_CRM_MARKETING_PROPENSITY_HORIZON_DAYS", 30))

    @property
    def IGNORED_ATTRIBUTES(self) -> tuple[str, ...]:
        """Attributes never used as model features (identifiers, free text)."""
        return tuple(getattr(settings, "HITL_CRM_MARKETING_IGNORED_ATTRIBUTES", ("external_id", "customerID")))


app_settings = _Settings()

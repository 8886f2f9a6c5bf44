"""Lazy app settings for approvals (read on access, so ``override_settings`` works).

Every setting is optional; ``approvals.checks`` validates the values at start-up.
"""

from __future__ import annotations

from django.conf import settings


class _Settings:
    @property
    def SITE_URL(self) -> str:
        """Absolute base URL used in links sent by email, e.g. ``https://crm.example.com``."""
        return getattr(settings, "HITL_CRM_SITE_URL", "http://127.0.0.1:8000")

    @property
    def DEFAULT_REVIEWER_GROUP(self) -> str:
        """Group that reviews requests no policy matches (fail closed: never unrouted, never automatic)."""
        return getattr(settings, "HITL_CRM_APPROVALS_DEFAULT_REVIEWER_GROUP", "Manager")

    @property
    def DEFAULT_SLA_MINUTES(self) -> int:
        """Time to decision for requests no policy matches."""
        return getattr(settings, "HITL_CRM_APPROVALS_DEFAULT_SLA_MINUTES", 240)

    @property
    def MAX_ESCALATIONS(self) -> int:
        """Escalations of an overdue request before it expires (it never approves itself)."""
        return getattr(settings, "HITL_CRM_APPROVALS_MAX_ESCALATIONS", 2)

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Execution attempts (transient errors, lost workers) before a request is marked failed."""
        return getattr(settings, "HITL_CRM_APPROVALS_MAX_ATTEMPTS", 5)

    @property
    def EXECUTION_LEASE_SECONDS(self) -> int:
        """How long a claim in ``executing`` is trusted before another worker may take it over.

        Must exceed Celery's hard task time limit: a live worker is killed by then, so a
        take-over never races a handler that is still running.
        """
        return getattr(settings, "HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS", 600)

    @property
    def UNDO_SECONDS(self) -> int:
        """Undo window: a request a person approves is carried out only this many seconds later.

        Until then the approver (or a holder of ``approvals.cancel_approvalrequest``) can undo the
        approval, which puts the request back to pending. The execution task is enqueued with that
        delay, and the reaper (beat) picks up any approved request whose window has passed, so a
        lost task never strands it. With tasks run eagerly (no broker: the embedded demo) a timer
        thread in the web process runs it. 0 carries it out at once. Autopilot approvals skip the
        window.
        """
        return max(0, int(getattr(settings, "HITL_CRM_APPROVALS_UNDO_SECONDS", 10)))

    @property
    def LINK_MAX_AGE_SECONDS(self) -> int:
        """Lifetime of the signed review links in notification emails."""
        return getattr(settings, "HITL_CRM_APPROVALS_LINK_MAX_AGE_SECONDS", 3 * 24 * 3600)

    @property
    def AUTOPILOT(self) -> bool:
        """Global switch: False stops every policy's autopilot at once (policies default to off anyway)."""
        return getattr(settings, "HITL_CRM_APPROVALS_AUTOPILOT", True)

    @property
    def NOTIFY_REVIEWERS(self) -> bool:
        """Email routed reviewers when a request reaches them."""
        return getattr(settings, "HITL_CRM_APPROVALS_NOTIFY_REVIEWERS", True)

    @property
    def DIGEST_MINUTES(self) -> int:
        """Reviewer emails: at most one digest per reviewer per this many minutes (new and overdue
        items together, sent by the beat task ``approval_digest_task``); 0 sends one email per
        item as soon as it is routed or escalated."""
        return max(0, int(getattr(settings, "HITL_CRM_APPROVALS_DIGEST_MINUTES", 15)))

    @property
    def NEGATIVE_SENTIMENT_BELOW(self) -> float:
        """A numeric ``context["sentiment"]`` below this counts as negative (VADER's convention)."""
        return getattr(settings, "HITL_CRM_APPROVALS_NEGATIVE_SENTIMENT_BELOW", -0.05)

    @property
    def AUDIT_KEY(self) -> str:
        """Secret for the audit trail's HMACs (events and anchors); empty: derived from SECRET_KEY.

        The fallback ties the trail to SECRET_KEY: rotating SECRET_KEY then makes every existing
        event fail verification. Set a dedicated key (32+ characters) in production and keep it
        away from the database's backups (approvals.W010 reminds you).
        """
        return getattr(settings, "HITL_CRM_AUDIT_KEY", "") or ""

    @property
    def AUDIT_ANCHOR_EMAILS(self) -> list[str]:
        """Who receives each audit anchor by email (comma-separated string or list); empty: nobody."""
        value = getattr(settings, "HITL_CRM_AUDIT_ANCHOR_EMAILS", "") or ""
        items = value.split(",") if isinstance(value, str) else list(value)
        return [str(item).strip() for item in items if str(item).strip()]


app_settings = _Settings()

from django.apps import AppConfig
from django.core import checks

_VIEW = ["approvals.view_approvalrequest", "approvals.view_decision"]


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"
    default_auto_field = "django.db.models.BigAutoField"
    nav = [
        {
            "label": "Review queue",
            "url_name": "approvals:queue",
            "order": 20,
            "permission": None,
            "badge_url_name": "approvals:badge",
        }
    ]
    # Model permissions only open the pages; which requests a user sees and decides is the
    # per-object review permission granted by routing.
    role_permissions = {
        "Sales rep": _VIEW,
        "Support agent": _VIEW,
        "Marketer": _VIEW,
        "Manager": [
            *_VIEW,
            "approvals.view_approvalpolicy",
            "approvals.view_auditevent",
            "approvals.cancel_approvalrequest",
            "approvals.requeue_approvalrequest",
        ],
    }

    def ready(self) -> None:
        from approvals import checks as approval_checks
        from approvals import kernel_audit  # noqa: F401  (connects the kernel's record_changed to the audit trail)
        from approvals.handlers import NOTIFY_EMAIL_ACTION
        from approvals.registry import register

        register(NOTIFY_EMAIL_ACTION)
        checks.register(approval_checks.check_actions)
        checks.register(approval_checks.check_settings)
        checks.register(approval_checks.check_audit_settings)
        self._connect_audit_signals()

    def _connect_audit_signals(self) -> None:
        """Audit group membership and permission changes, whichever code path makes them."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed

        from approvals.audit import audit_m2m_changed

        user_model = get_user_model()
        for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
            m2m_changed.connect(
                audit_m2m_changed, sender=through, dispatch_uid=f"approvals.audit.{through._meta.label}"
            )

    def seed_demo(self, *, stdout) -> None:
        from approvals.demo import seed

        seed(stdout=stdout)

    def dashboard_stats(self, user) -> list[dict]:
        from django.urls import reverse

        from approvals.selectors import PENDING_COUNT_CAP, approval_pending_count

        count = approval_pending_count(user=user)
        value = f"{PENDING_COUNT_CAP}+" if count >= PENDING_COUNT_CAP else count
        return [{"label": "Waiting for your review", "value": value, "url": reverse("approvals:queue")}]

    def my_work(self, user) -> list:
        from approvals.my_work import approvals_my_work

        return approvals_my_work(user=user)

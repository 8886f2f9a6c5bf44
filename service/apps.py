from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks

_AGENT = [
    "service.view_case",
    "service.add_case",
    "service.change_case",
    "service.view_all_cases",
    "service.view_message",
    "service.add_message",
    "service.change_message",
    "service.view_knowledgearticle",
    "service.add_knowledgearticle",
    "service.change_knowledgearticle",
    "service.view_refundrequest",
    "service.add_refundrequest",
]


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = "Service desk"
    default_auto_field = "django.db.models.BigAutoField"
    nav = [
        {"label": "Cases", "url_name": "service:inbox", "order": 40, "permission": "service.view_case"},
        {
            "label": "Knowledge base",
            "url_name": "service:kb_list",
            "order": 45,
            "permission": "service.view_knowledgearticle",
        },
    ]
    role_permissions = {
        "Support agent": _AGENT,
        "Manager": [
            *_AGENT,
            "service.delete_case",
            "service.delete_message",
            "service.delete_knowledgearticle",
            "service.change_refundrequest",
            "service.view_ledgerentry",
            "service.view_triagecorrection",
        ],
        # Sales reps see the cases of the customers they own (read-only).
        "Sales rep": ["service.view_case"],
    }

    def ready(self) -> None:
        from approvals.registry import register
        from approvals.signals import approval_status_changed
        from service import checks as service_checks
        from service.handlers import ISSUE_REFUND_ACTION, SEND_REPLY_ACTION
        from service.services import on_approval_status_changed

        register(SEND_REPLY_ACTION)
        register(ISSUE_REFUND_ACTION)
        approval_status_changed.connect(on_approval_status_changed, dispatch_uid="service.approval_status_changed")
        checks.register(service_checks.check_settings)

    def seed_demo(self, *, stdout) -> None:
        from service.demo import seed

        seed(stdout=stdout)

    def dashboard_stats(self, user: Any) -> list[dict[str, Any]]:
        from django.urls import NoReverseMatch, reverse

        from service.selectors import case_counts

        if not user.has_perm("service.view_case"):
            return []
        try:
            inbox, needs_human = reverse("service:inbox"), reverse("service:needs_human")
        except NoReverseMatch:  # the site does not route to the service desk (yet)
            return []
        counts = case_counts(user=user)
        return [
            {"label": "Open cases", "value": counts["open"], "url": f"{inbox}?status=open"},
            {"label": "Cases needing a person", "value": counts["needs_human"], "url": needs_human},
        ]

    def my_work(self, user: Any) -> list[Any]:
        from service.my_work import service_my_work

        return service_my_work(user=user)

    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
        from django.urls import NoReverseMatch

        from service.selectors import case_search

        try:
            return [
                {
                    "label": str(case),
                    "url": case.get_absolute_url(),
                    "kind": "Cases",
                    "detail": f"{case.contact} · {case.get_status_display()}",
                }
                for case in case_search(user=user, query=query, limit=limit)
            ]
        except NoReverseMatch:  # the site does not route to the service desk
            return []

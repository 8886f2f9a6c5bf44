from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from django.apps import AppConfig
from django.core import checks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_LEAD_WORK = [
    "leads.view_lead",
    "leads.add_lead",
    "leads.change_lead",
    "leads.override_lead_score",
    "leads.view_leadevent",
    "leads.add_leadevent",
    "leads.view_leadscorehistory",
    "leads.view_scoringmodel",
]
_SCORING_ADMIN = [
    "leads.view_scoringrule",
    "leads.add_scoringrule",
    "leads.change_scoringrule",
    "leads.delete_scoringrule",
    "leads.view_scoringmodel",
    "leads.change_scoringmodel",
    "leads.train_scoringmodel",
]
_IMPORTS = ["leads.view_leadimport", "leads.add_leadimport"]


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"
    default_auto_field = "django.db.models.BigAutoField"
    nav = [{"label": "Leads", "url_name": "leads:prospects", "order": 30, "permission": "leads.view_lead"}]
    role_permissions = {
        "Sales rep": [*_LEAD_WORK, *_IMPORTS],
        "Manager": [*_LEAD_WORK, *_SCORING_ADMIN, *_IMPORTS, "leads.delete_lead"],
        "Marketer": ["leads.view_lead"],
    }

    def ready(self) -> None:
        from approvals.registry import register
        from leads import checks as lead_checks
        from leads import signals
        from leads.handlers import SEND_FOLLOWUP_ACTION

        register(SEND_FOLLOWUP_ACTION)
        checks.register(lead_checks.check_settings)
        signals.connect()

    def seed_demo(self, *, stdout: TextIO) -> None:
        from leads.demo import seed

        seed(stdout=stdout)

    def dashboard_stats(self, user: User) -> list[dict[str, Any]]:
        if not user.has_perm("leads.view_lead"):
            return []
        from django.urls import NoReverseMatch, reverse

        from leads.selectors import lead_stats

        stats = lead_stats(user=user)
        try:
            url = reverse("leads:prospects")
        except NoReverseMatch:
            url = ""
        return [
            {"label": "A-tier prospects", "value": stats["a_tier_open"], "url": f"{url}?tier=A" if url else ""},
            {"label": "My open leads", "value": stats["mine_open"], "url": f"{url}?scope=mine" if url else ""},
        ]

    def my_work(self, user: User) -> list[Any]:
        from leads.my_work import leads_my_work

        return leads_my_work(user=user)

    def search(self, user: User, query: str, limit: int) -> list[dict[str, Any]]:
        from django.urls import NoReverseMatch

        from leads.selectors import lead_search

        try:
            return [
                {
                    "label": str(lead),
                    "url": lead.get_absolute_url(),
                    "kind": "Leads",
                    "detail": " · ".join(
                        part
                        for part in (lead.company, lead.get_status_display(), lead.tier and f"tier {lead.tier}")
                        if part
                    ),
                }
                for lead in lead_search(user=user, query=query, limit=limit)
            ]
        except NoReverseMatch:  # the site does not route to leads
            return []

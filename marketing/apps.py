from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


def _crud(*models: str) -> list[str]:
    return [f"marketing.{verb}_{model}" for model in models for verb in ("view", "add", "change", "delete")]


_MARKETER = [
    *_crud("campaign", "segment", "variant"),
    "marketing.view_send",
    "marketing.view_conversion",
    "marketing.view_suppression",
    "marketing.add_suppression",
    "marketing.view_predictivemodel",
    "marketing.view_contactscore",
]


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = "Marketing"
    default_auto_field = "django.db.models.BigAutoField"
    # Segments are reached from the campaign list (a second entry under /marketing/ would light up too).
    nav = [
        {"label": "Campaigns", "url_name": "marketing:campaigns", "order": 50, "permission": "marketing.view_campaign"},
    ]
    role_permissions = {
        "Marketer": _MARKETER,
        "Manager": [
            *_MARKETER,
            "marketing.delete_suppression",
            "marketing.change_suppression",
            "marketing.add_conversion",
            "marketing.change_predictivemodel",
        ],
        # Sales reps see who is at risk (segments, churn badges) and, read-only, what their
        # customers were sent; they build and approve nothing.
        "Sales rep": ["marketing.view_segment", "marketing.view_contactscore", "marketing.view_campaign"],
    }

    def ready(self) -> None:
        from approvals.registry import register
        from approvals.signals import approval_status_changed
        from marketing import checks as marketing_checks
        from marketing.handlers import SEND_CAMPAIGN_ACTION
        from marketing.services import on_approval_status_changed

        register(SEND_CAMPAIGN_ACTION)
        approval_status_changed.connect(on_approval_status_changed, dispatch_uid="marketing.approval_status_changed")
        checks.register(marketing_checks.check_settings)

    def seed_demo(self, *, stdout) -> None:
        from marketing.demo import seed

        seed(stdout=stdout)

    def contact_badges(self, contact: Any, user: Any) -> list[dict[str, Any]]:
        """Badges for a contact's page: churn risk and purchase propensity, with the reasons as a title.

        ``[{"label": "Churn risk", "value": "high 0.82", "css": "pill-high", "title": "…"}]`` — for the
        web app to show once it offers such a hook (one query).
        """
        from marketing.models import ContactScore

        if not user.has_perm("marketing.view_contactscore"):
            return []
        labels = {"churn": "Churn risk", "propensity": "Purchase propensity"}
        css = {
            "churn": {"high": "pill-high", "medium": "pill-medium", "low": "pill-low"},
            "propensity": {"high": "pill-ok", "medium": "pill-medium", "low": "pill-muted"},
        }
        badges = []
        for score in ContactScore.objects.filter(contact=contact).order_by("kind"):
            why = "; ".join(f"{f['feature']} ({'raises' if f['effect'] > 0 else 'lowers'} it)" for f in score.factors)
            badges.append(
                {
                    "label": labels.get(score.kind, score.kind),
                    "value": f"{score.band} {score.value:.2f}",
                    "css": css.get(score.kind, {}).get(score.band, "pill-muted"),
                    "title": why,
                }
            )
        return badges

    def dashboard_stats(self, user: Any) -> list[dict[str, Any]]:
        from django.urls import NoReverseMatch, reverse

        from marketing.selectors import campaign_counts

        counts = campaign_counts(user=user)
        if not counts:
            return []
        try:
            url = reverse("marketing:campaigns")
        except NoReverseMatch:  # the site has not mounted marketing's URLs
            return []
        return [
            {"label": "Campaigns awaiting approval", "value": counts["in_review"], "url": f"{url}?status=in_review"},
            {"label": "Campaigns running", "value": counts["running"], "url": f"{url}?status=running"},
        ]

    def my_work(self, user: Any) -> list[Any]:
        from marketing.my_work import marketing_my_work

        return marketing_my_work(user=user)

    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
        from django.urls import NoReverseMatch

        from marketing.selectors import campaign_search

        try:
            return [
                {
                    "label": campaign.name,
                    "url": campaign.get_absolute_url(),
                    "kind": "Campaigns",
                    "detail": " · ".join(part for part in (campaign.product, campaign.get_status_display()) if part),
                }
                for campaign in campaign_search(user=user, query=query, limit=limit)
            ]
        except NoReverseMatch:  # the site has not mounted marketing's URLs
            return []

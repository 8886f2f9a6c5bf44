from django.apps import AppConfig
from django.core import checks

_REVIEW = ["ai.view_airun"]  # reviewers see "what the AI saw" behind every proposal


class AiConfig(AppConfig):
    name = "hitl_crm.ai"
    label = "ai"
    verbose_name = "AI engine"
    role_permissions = {
        "Sales rep": _REVIEW,
        "Support agent": _REVIEW,
        "Marketer": _REVIEW,
        "Manager": [
            *_REVIEW,
            "ai.view_intentexample",
            "ai.add_intentexample",
            "ai.change_intentexample",
            "ai.view_trainedmodel",
            "ai.change_trainedmodel",
        ],
    }

    def ready(self) -> None:
        from hitl_crm.ai import checks as ai_checks

        checks.register(ai_checks.check_ai_settings)

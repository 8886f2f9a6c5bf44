from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "hitl_crm.ai"
    label = "ai"
    verbose_name = "AI engine"

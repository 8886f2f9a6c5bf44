"""Admin: AI runs (read-only provenance), labelled intent examples, trained models."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from hitl_crm.ai.models import AiRun, IntentExample, TrainedModel
from hitl_crm.ai.services import trained_model_activate


def _pretty(value: Any) -> str:
    # format_html escapes the JSON: AI output and customer text are never trusted as HTML.
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(AiRun)
class AiRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "skill",
        "backend",
        "model_name",
        "status",
        "risk",
        "confidence",
        "latency_ms",
        "attempts",
        "cost_usd",
    ]
    list_filter = ["skill", "status", "backend", "risk"]
    search_fields = ["error", "model_name", "subject_id"]
    date_hierarchy = "created_at"
    list_select_related = ["subject_type"]
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = (
        "skill",
        "backend",
        "model_name",
        "prompt_version",
        "status",
        "error",
        "risk",
        "confidence",
        "flags_view",
        "subject_type",
        "subject_id",
        "input_view",
        "output_view",
        "latency_ms",
        "attempts",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "created_at",
    )

    @admin.display(description="What the AI saw (redacted)")
    def input_view(self, obj: AiRun) -> str:
        return _pretty(obj.input_redacted)

    @admin.display(description="Output")
    def output_view(self, obj: AiRun) -> str:
        return _pretty(obj.output)

    @admin.display(description="Flags")
    def flags_view(self, obj: AiRun) -> str:
        return _pretty(obj.flags)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AiRun | None = None) -> bool:
        return False  # provenance is never edited; the view permission shows it

    def has_delete_permission(self, request: HttpRequest, obj: AiRun | None = None) -> bool:
        return False


@admin.register(IntentExample)
class IntentExampleAdmin(admin.ModelAdmin):
    list_display = ["intent", "category", "short_text", "source", "created_at"]
    list_filter = ["source", "intent", "category"]
    search_fields = ["text", "intent"]

    @admin.display(description="Text")
    def short_text(self, obj: IntentExample) -> str:
        return obj.text[:100]


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "active", "trained_on", "holdout_macro_f1", "created_at"]
    list_filter = ["kind", "active"]
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = (
        "kind",
        "version",
        "active",
        "trained_on",
        "metrics_view",
        "params_summary",
        "created_at",
    )
    actions = ["activate"]

    @admin.display(description="Hold-out macro-F1")
    def holdout_macro_f1(self, obj: TrainedModel) -> str:
        value = (obj.metrics or {}).get("holdout", {}).get("macro_f1")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="Metrics")
    def metrics_view(self, obj: TrainedModel) -> str:
        return _pretty(obj.metrics)

    @admin.display(description="Parameters")
    def params_summary(self, obj: TrainedModel) -> str:
        params = obj.params or {}
        features = len((params.get("featurizer") or {}).get("terms", []))
        classes = params.get("classes", [])
        return f"{len(classes)} classes, {features} TF-IDF features (JSON, format {params.get('format')})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # models come from `manage.py train_intents`

    def has_change_permission(self, request: HttpRequest, obj: TrainedModel | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainedModel]:
        # params can be megabytes of coefficients: never load them for the list
        return super().get_queryset(request).defer("params")

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ai.change_trainedmodel")

    @admin.action(description="Make the selected model the active one", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[TrainedModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.WARNING)
            return
        model = trained_model_activate(model=queryset.get())
        self.message_user(request, f"{model.label} is now active.", messages.SUCCESS)

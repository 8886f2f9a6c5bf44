"""Django admin for marketing: suppression is edited here; campaigns, sends and models are read-only
(campaign changes go through the builder and the approval queue)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from marketing.models import Campaign, ContactScore, Conversion, PredictiveModel, Segment, Send, Suppression, Variant


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = ("subject", "style", "origin", "status", "ai_score")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(_ReadOnly):
    list_display = ["name", "status", "segment", "owner", "created_at", "started_at", "finished_at"]
    list_filter = ["status", "test_metric"]
    search_fields = ["name", "goal"]
    inlines = [VariantInline]


@admin.register(Segment)
class SegmentAdmin(_ReadOnly):
    list_display = ["name", "owner", "updated_at"]
    search_fields = ["name"]


@admin.register(Send)
class SendAdmin(_ReadOnly):
    list_display = ["campaign", "contact", "variant", "phase", "status", "sent_at", "opened_at", "clicked_at"]
    list_filter = ["status", "phase"]
    list_select_related = ["campaign", "contact", "variant"]
    raw_id_fields = ["campaign", "contact", "variant"]
    show_full_result_count = False


@admin.register(Conversion)
class ConversionAdmin(_ReadOnly):
    list_display = ["send", "occurred_at", "value", "external_id", "source"]
    list_select_related = ["send"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "source", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email"]

    def save_model(self, request: HttpRequest, obj: Suppression, form: ModelForm[Suppression], change: bool) -> None:
        obj.email = obj.email.strip().lower()
        super().save_model(request, obj, form, change)


@admin.register(PredictiveModel)
class PredictiveModelAdmin(_ReadOnly):
    list_display = ["kind", "version", "active", "trained_at", "auc"]
    list_filter = ["kind", "active"]

    @admin.display(description="Hold-out ROC AUC")
    def auc(self, obj: PredictiveModel) -> float | None:
        return (obj.metrics or {}).get("roc_auc")


@admin.register(ContactScore)
class ContactScoreAdmin(_ReadOnly):
    list_display = ["contact", "kind", "value", "model_version", "scored_at"]
    list_filter = ["kind"]
    list_select_related = ["contact"]
    show_full_result_count = False

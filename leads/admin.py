from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from hitl_crm.types import authenticated_user
from leads.models import Lead, LeadEvent, LeadImport, LeadImportError, LeadScoreHistory, ScoringModel, ScoringRule


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["__str__", "company", "status", "score", "tier", "source", "owner", "updated_at"]
    list_filter = ["status", "tier", "source"]
    search_fields = ["first_name", "last_name", "email", "company", "external_id"]
    raw_id_fields = ["contact", "account", "owner", "override_by", "lead_import"]
    readonly_fields = [
        "score",
        "tier",
        "computed_score",
        "model_probability",
        "rules_points",
        "score_factors",
        "model_version",
        "scored_at",
        "score_dirty_at",
        "override_score",
        "override_reason",
        "override_by",
        "override_at",
        "last_engaged_at",
        "closed_at",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["owner"]

    def save_model(self, request: HttpRequest, obj: Lead, form: ModelForm, change: bool) -> None:
        # Through the services, like every other change: permission, validation and audit.
        from leads.services import LEAD_FIELDS, lead_create, lead_update

        data = {name: form.cleaned_data[name] for name in form.changed_data if name in LEAD_FIELDS}
        if change:
            lead_update(lead=obj, data=data, actor=authenticated_user(request))
        else:
            lead = lead_create(actor=authenticated_user(request), **data)
            obj.pk, obj._state.adding = lead.pk, False


@admin.register(LeadEvent)
class LeadEventAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "occurred_at", "amount", "source"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "target", "path", "operator", "value", "points", "active"]
    list_editable = ["points", "active"]
    list_filter = ["active", "target"]

    def save_model(self, request: HttpRequest, obj: ScoringRule, form: ModelForm, change: bool) -> None:
        from leads.services import scoring_rule_save

        data = {
            name: getattr(obj, name)
            for name in (
                "name",
                "target",
                "path",
                "operator",
                "value",
                "aggregate",
                "within_days",
                "event_match",
                "points",
                "active",
            )
        }
        scoring_rule_save(data=data, rule=obj, actor=authenticated_user(request))


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    list_display = ["version", "active", "trained_at", "roc_auc", "n_train", "note"]
    readonly_fields = ["version", "params", "metrics", "trained_at", "trained_by", "active"]
    actions = ["activate"]

    @admin.display(description="ROC AUC")
    def roc_auc(self, obj: ScoringModel) -> Any:
        return obj.metrics.get("roc_auc")

    @admin.display(description="rows")
    def n_train(self, obj: ScoringModel) -> Any:
        return obj.metrics.get("n_train")

    @admin.action(description="Use this version to score every lead", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ScoringModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version.", messages.ERROR)
            return
        from leads.services import scoring_model_activate

        model = scoring_model_activate(model=queryset.get(), actor=authenticated_user(request))
        self.message_user(request, f"Model v{model.version} now scores every lead.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LeadScoreHistory)
class LeadScoreHistoryAdmin(admin.ModelAdmin):
    list_display = ["lead", "score", "tier", "model_version", "source", "actor", "created_at"]
    list_filter = ["source"]
    raw_id_fields = ["lead", "actor"]


class LeadImportErrorInline(admin.TabularInline):
    model = LeadImportError
    extra = 0
    readonly_fields = ("line", "column", "value", "message", "duplicate")
    fields = readonly_fields
    max_num = 0


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "status",
        "total_rows",
        "created_rows",
        "updated_rows",
        "skipped_rows",
        "failed_rows",
        "created_by",
        "created_at",
    ]
    exclude = ["content"]
    readonly_fields = [
        "file_name",
        "encoding",
        "delimiter",
        "headers",
        "mapping",
        "status",
        "total_rows",
        "processed_rows",
        "created_rows",
        "updated_rows",
        "skipped_rows",
        "failed_rows",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "update_existing",
        "default_owner",
    ]
    inlines = [LeadImportErrorInline]

"""Django admin: policies are edited here; requests, decisions and the audit trail are read-only.

The only write on requests is the "Cancel selected" action, which calls the same service
as every other caller.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from approvals.exceptions import ApprovalError
from approvals.models import (
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    AuditEvent,
    AuthorityLimit,
    AutopilotState,
    Decision,
)
from approvals.services import approval_cancel


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AuthorityLimitInline(admin.TabularInline):
    model = AuthorityLimit
    extra = 1
    autocomplete_fields = ["group"]


class AutopilotStateInline(_ReadOnlyInline):
    model = AutopilotState
    fields = ["category", "active", "stats", "changed_at"]
    readonly_fields = fields
    verbose_name_plural = "autopilot state (computed)"


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "action",
        "is_active",
        "priority",
        "conditions",
        "required_approvals",
        "sla_minutes",
        "autopilot_enabled",
    ]
    list_filter = ["action", "is_active", "autopilot_enabled"]
    search_fields = ["name", "action", "category"]
    filter_horizontal = ["reviewer_groups", "reviewer_users"]
    inlines = [AuthorityLimitInline, AutopilotStateInline]
    fieldsets = [
        (None, {"fields": ["name", "action", "is_active", "priority", "description"]}),
        (
            "Applies when (empty = any; the most specific matching policy wins)",
            {"fields": ["min_amount", "max_amount", "min_risk", "category", "vip", "negative_sentiment"]},
        ),
        (
            "Reviewers",
            {"fields": ["reviewer_groups", "reviewer_users", "required_approvals", "sla_minutes", "escalation_group"]},
        ),
        (
            "Autopilot (off unless enabled; earns autonomy from reviewers' record)",
            {
                "fields": [
                    "autopilot_enabled",
                    "autopilot_confidence",
                    "autopilot_target",
                    "autopilot_min_samples",
                    "autopilot_window_days",
                    "autopilot_spot_check",
                ]
            },
        ),
    ]

    @admin.display(description="conditions")
    def conditions(self, obj: ApprovalPolicy) -> str:
        parts = []
        if obj.min_amount is not None or obj.max_amount is not None:
            parts.append(
                f"amount {obj.min_amount if obj.min_amount is not None else '…'}–"
                f"{obj.max_amount if obj.max_amount is not None else '…'}"
            )
        if obj.min_risk:
            parts.append(f"risk ≥ {obj.min_risk}")
        if obj.category:
            parts.append(f"category {obj.category}")
        if obj.vip is not None:
            parts.append("VIP" if obj.vip else "not VIP")
        if obj.negative_sentiment is not None:
            parts.append("negative" if obj.negative_sentiment else "not negative")
        return ", ".join(parts) or "any"


class DecisionInline(_ReadOnlyInline):
    model = Decision
    fields = ["created_at", "reviewer", "is_autopilot", "verdict", "reason", "edit_ratio", "comment"]
    readonly_fields = fields


class GroupPermissionInline(_ReadOnlyInline):
    model = ApprovalRequestGroupObjectPermission
    fields = ["group", "permission"]
    readonly_fields = fields
    verbose_name_plural = "object permissions: groups"


class UserPermissionInline(_ReadOnlyInline):
    model = ApprovalRequestUserObjectPermission
    fields = ["user", "permission"]
    readonly_fields = fields
    verbose_name_plural = "object permissions: users"


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "action", "status", "risk", "category", "policy", "escalation_level", "due_at", "created_at"]
    list_filter = ["status", "action", "risk", "escalation_level"]
    search_fields = ["=id", "action", "category", "object_id", "execution_key"]
    list_select_related = ["policy"]
    date_hierarchy = "created_at"
    inlines = [DecisionInline, GroupPermissionInline, UserPermissionInline]
    actions = ["cancel_selected"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("approvals.cancel_approvalrequest")

    @admin.action(description="Cancel selected requests", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[ApprovalRequest]) -> None:
        cancelled, problems = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                approval_cancel(request_id=pk, actor=request.user, reason="Cancelled in admin")
                cancelled += 1
            except ApprovalError as exc:
                problems.append(f"#{pk}: {exc}")
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} request(s).", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "request", "reviewer", "is_autopilot", "verdict", "reason", "edit_ratio", "created_at"]
    list_filter = ["verdict", "is_autopilot", "reason"]
    list_select_related = ["request", "reviewer"]
    search_fields = ["=request__id", "reviewer__username"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "actor_label", "verb", "request"]
    list_filter = ["verb", "actor_type"]
    search_fields = ["=request__id", "actor_label", "verb"]
    list_select_related = ["request"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

"""Django admin: policies are edited here; requests, decisions and the audit trail are read-only.

The only write on requests is the "Cancel selected" action, which calls the same service
as every other caller. Every policy (and authority limit) change made here is audited with
the admin as actor and the changed fields, in the transaction that saves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from approvals.admin_forms import ApprovalPolicyForm, RoutingPreviewForm, TrialRequest, registered_action_choices
from approvals.audit import audit_record
from approvals.conf import app_settings
from approvals.exceptions import ApprovalError
from approvals.models import (
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalRequestGroupObjectPermission,
    ApprovalRequestUserObjectPermission,
    AuditAnchor,
    AuditEvent,
    AuthorityLimit,
    AutopilotState,
    Decision,
    ExchangeRate,
)
from approvals.payloads import canonical_json, jsonable
from approvals.policies import NoExchangeRate, in_currency, policy_match, within_authority
from approvals.registry import get_action
from approvals.services import approval_cancel
from hitl_crm.money import Money
from hitl_crm.types import authenticated_user

_UNAUDITED_POLICY_FIELDS = {"id", "created_at", "updated_at"}


def _policy_snapshot(policy: ApprovalPolicy) -> dict[str, Any]:
    """Every editable value of a policy, its reviewers and its authority limits, as JSON values."""
    values: dict[str, Any] = {}
    for f in ApprovalPolicy._meta.concrete_fields:
        if f.name in _UNAUDITED_POLICY_FIELDS:
            continue
        value = getattr(policy, f.name)
        values[f.name] = str(value) if f.is_relation and value is not None else value
    values["reviewer_groups"] = sorted(g.name for g in policy.reviewer_groups.all())
    values["reviewer_users"] = sorted(u.get_username() for u in policy.reviewer_users.all())
    limit_fields = [f for f in AuthorityLimit._meta.concrete_fields if f.name not in {"id", "policy", "group"}]
    values["authority_limits"] = sorted(
        (
            {"group": limit.group.name, **{f.name: getattr(limit, f.name) for f in limit_fields}}
            for limit in policy.authority_limits.select_related("group")
        ),
        key=canonical_json,
    )
    return jsonable(values)


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
    fields = ["group", "currency", "max_amount"]
    autocomplete_fields = ["group"]
    verbose_name_plural = "authority limits (per currency, inclusive: a limit of 20,000 allows exactly 20,000.00)"


class AutopilotStateInline(_ReadOnlyInline):
    model = AutopilotState
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = ("category", "active", "stats", "changed_at")
    verbose_name_plural = "autopilot state (computed)"


def _duration(minutes: int) -> str:
    """``240`` → "4 h", ``90`` → "1 h 30 min", ``45`` → "45 min"."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _approvals(count: int) -> str:
    return "1 approval" if count == 1 else f"{count} approvals by distinct reviewers"


def _default_group_label() -> str:
    name = app_settings.DEFAULT_REVIEWER_GROUP
    if Group.objects.filter(name=name).exists():
        return f"{name} (group)"
    return f"{name} (default reviewer group, which does not exist: nobody would be asked)"


@dataclass
class RoutingOutcome:
    """What the gate would do with a tried request, in words."""

    summary: str
    policy: ApprovalPolicy | None = None
    refused: str = ""
    conversion: str = ""
    authority: list[str] = field(default_factory=list)


def _trial_summary(trial: TrialRequest, label: str) -> str:
    facts = [f"risk {trial.risk}"]
    if trial.category:
        facts.append(f"category {trial.category}")
    facts.append("VIP" if trial.vip else "not VIP")
    if trial.negative_sentiment:
        facts.append("negative sentiment")
    amount = f"A {trial.money} “{label}” request" if trial.money else f"A “{label}” request without an amount"
    return f"{amount} ({', '.join(facts)})"


def _authority_lines(policy: ApprovalPolicy, money: Money | None) -> list[str]:
    """Per group with limits on ``policy``: its limits and whether it may approve ``money`` (the gate's check)."""
    by_group: dict[str, list[Money | None]] = {}
    for limit in policy.authority_limits.select_related("group").order_by("group__name", "currency"):
        value = Money(limit.max_amount, limit.currency) if limit.max_amount is not None else None
        by_group.setdefault(limit.group.name, []).append(value)
    lines = []
    for group, limits in by_group.items():
        if any(limit is None for limit in limits):
            lines.append(f"{group}: no limit, may approve it")
            continue
        amounts = [limit for limit in limits if limit is not None]
        shown = ", ".join(str(limit) for limit in amounts)
        if money is None:
            lines.append(f"{group}: up to {shown}")
            continue
        try:
            allowed, _ = within_authority(money, amounts)
        except NoExchangeRate as exc:
            lines.append(f"{group}: up to {shown}; {exc}")
            continue
        lines.append(
            f"{group}: up to {shown}, {'may approve it' if allowed else 'may not approve it (above the limit)'}"
        )
    return lines


def routing_outcome(trial: TrialRequest) -> RoutingOutcome:
    """Route ``trial`` with the gate's own matching (``policy_match``) and say what happens, in words."""
    label = get_action(trial.action).label
    subject = _trial_summary(trial, label)
    try:
        policy = policy_match(action=trial.action, context=trial.context(), risk=trial.risk)
    except NoExchangeRate as exc:
        return RoutingOutcome(summary=f"{subject} is refused by the gate: {exc}", refused=str(exc))
    if policy is None:
        default = _default_group_label()
        return RoutingOutcome(
            summary=f"{subject}: no active policy matches: the default routing applies ({default}, "
            f"{_approvals(1)}, SLA {_duration(app_settings.DEFAULT_SLA_MINUTES)}, escalates to {default})."
        )
    reviewers = [f"{name} (group)" for name in sorted(g.name for g in policy.reviewer_groups.all())]
    reviewers += [f"{name} (user)" for name in sorted(u.get_username() for u in policy.reviewer_users.all())]
    if not reviewers:
        reviewers = [f"{_default_group_label()}, as the policy names no reviewers"]
    escalation = (
        f"{policy.escalation_group.name} (group)" if policy.escalation_group is not None else _default_group_label()
    )
    outcome = RoutingOutcome(
        summary=f"{subject} goes to: {', '.join(reviewers)}, {_approvals(policy.required_approvals)}, "
        f"SLA {_duration(policy.sla_minutes)}, escalates to {escalation}.",
        policy=policy,
        authority=_authority_lines(policy, trial.money),
    )
    if trial.money is not None and trial.money.currency != policy.currency:
        try:
            converted = in_currency(trial.money, policy.currency)
        except NoExchangeRate as exc:
            outcome.conversion = str(exc)
        else:
            outcome.conversion = (
                f"{trial.money} is {converted} in the policy's currency (newest exchange rate, rounded up)."
            )
    return outcome


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
    form = ApprovalPolicyForm
    fieldsets = [
        (None, {"fields": ["name", "action", "is_active", "priority", "description"]}),
        (
            "Amount range (in the policy's currency)",
            {
                "fields": ["currency", "min_amount", "max_amount"],
                "description": "Both bounds are inclusive and in the currency chosen here; an amount in another "
                "currency is converted with the exchange-rate table. Empty: any amount.",
            },
        ),
        (
            "Applies when (empty = any; the most specific matching policy wins)",
            {"fields": ["min_risk", "category", "vip", "negative_sentiment"]},
        ),
        (
            "Reviewers",
            {
                "fields": [
                    "reviewer_groups",
                    "reviewer_users",
                    "required_approvals",
                    "second_review_edit_ratio",
                    "sla_minutes",
                    "escalation_group",
                ]
            },
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

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        preview = self.admin_site.admin_view(self.routing_preview_view)
        return [
            path("routing-preview/", preview, name=f"{prefix}_routing_preview_any"),
            path("<path:object_id>/routing-preview/", preview, name=f"{prefix}_routing_preview"),
            *super().get_urls(),
        ]

    def routing_preview_view(self, request: HttpRequest, object_id: str | None = None) -> HttpResponse:
        """ "Try a request": which policy wins for it and what routing follows (GET form, read-only)."""
        policy = None
        if object_id is not None:
            policy = self.get_object(request, object_id)
            if policy is None:
                raise Http404("No such policy.")
        if not self.has_view_permission(request, policy):
            raise PermissionDenied
        initial: dict[str, Any] = {"currency": policy.currency if policy else "USD"}
        if policy is not None:
            initial["action"] = policy.action
        form = RoutingPreviewForm(request.GET if "action" in request.GET else None, initial=initial)
        outcome = routing_outcome(form.trial()) if form.is_bound and form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try a request: {policy}" if policy else "Try a request",
            "subtitle": None,
            "opts": self.opts,
            "original": policy,
            "form": form,
            "outcome": outcome,
            "action_registered": policy is None or policy.action in dict(registered_action_choices()),
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/approvals/approvalpolicy/routing_preview.html", context)

    def save_model(self, request: HttpRequest, obj: ApprovalPolicy, form: ModelForm, change: bool) -> None:
        # Reviewers and limits are saved later (save_related): keep the "before" on the form
        # (in its instance dict: ModelForm declares no such attribute).
        vars(form)["_audit_before"] = (
            _policy_snapshot(ApprovalPolicy.objects.select_for_update().get(pk=obj.pk)) if change else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        policy: ApprovalPolicy = form.instance
        after = _policy_snapshot(policy)
        before = getattr(form, "_audit_before", None)
        if before is None:
            audit_record(
                verb="policy_created",
                actor=authenticated_user(request),
                target=policy,
                data={"policy": policy.name, "values": after},
            )
            return
        changes = {
            name: {"before": before.get(name), "after": value}
            for name, value in after.items()
            if before.get(name) != value
        }
        if changes:
            audit_record(
                verb="policy_changed",
                actor=authenticated_user(request),
                target=policy,
                data={"policy": policy.name, "changes": changes},
            )

    def delete_model(self, request: HttpRequest, obj: ApprovalPolicy) -> None:
        with transaction.atomic():
            self._audit_deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApprovalPolicy]) -> None:
        with transaction.atomic():
            for policy in queryset.select_for_update():
                self._audit_deleted(request, policy)
            super().delete_queryset(request, queryset)

    def _audit_deleted(self, request: HttpRequest, policy: ApprovalPolicy) -> None:
        audit_record(
            verb="policy_deleted",
            actor=authenticated_user(request),
            target=policy,
            data={"policy": policy.name, "values": _policy_snapshot(policy)},
        )

    @admin.display(description="conditions")
    def conditions(self, obj: ApprovalPolicy) -> str:
        parts = []
        if obj.min_amount is not None or obj.max_amount is not None:
            parts.append(
                f"amount {obj.min_amount if obj.min_amount is not None else '…'}–"
                f"{obj.max_amount if obj.max_amount is not None else '…'} {obj.currency}"
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
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = (
        "created_at",
        "reviewer",
        "is_autopilot",
        "verdict",
        "version",
        "reason",
        "edit_ratio",
        "material",
        "second_review",
        "comment",
    )


class GroupPermissionInline(_ReadOnlyInline):
    model = ApprovalRequestGroupObjectPermission
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = ("group", "permission")
    verbose_name_plural = "object permissions: groups"


class UserPermissionInline(_ReadOnlyInline):
    model = ApprovalRequestUserObjectPermission
    # One tuple serves both: the stubs type the two as lists of different item types.
    fields = readonly_fields = ("user", "permission")
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
                approval_cancel(request_id=pk, actor=authenticated_user(request), reason="Cancelled in admin")
                cancelled += 1
            except ApprovalError as exc:
                problems.append(f"#{pk}: {exc}")
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} request(s).", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates that convert amounts into a policy's or a limit's currency; the newest valid one applies."""

    list_display = ["currency", "base_currency", "rate", "valid_from", "created_at"]
    list_filter = ["base_currency", "currency"]
    search_fields = ["currency", "base_currency"]
    date_hierarchy = "valid_from"
    fields = ["currency", "base_currency", "rate", "valid_from"]


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
    list_display = ["id", "created_at", "actor_label", "verb", "request", "target_repr"]
    list_filter = ["verb", "actor_type", "target_type"]
    search_fields = ["=request__id", "actor_label", "verb", "=target_id", "target_repr"]
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


@admin.register(AuditAnchor)
class AuditAnchorAdmin(admin.ModelAdmin):
    list_display = ["sequence", "created_at", "head_id", "event_count", "head_hash"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

"""System checks for approvals (ids approvals.E001…, approvals.W010…)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from rest_framework import serializers

from approvals.conf import app_settings
from approvals.registry import all_actions


def check_actions(app_configs, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for action in all_actions():
        where = f"Approval action {action.key!r}"
        if not (isinstance(action.serializer, type) and issubclass(action.serializer, serializers.Serializer)):
            errors.append(Error(f"{where}: serializer is not a DRF Serializer class.", id="approvals.E001"))
            continue
        if not callable(action.handler):
            errors.append(Error(f"{where}: handler is not callable.", id="approvals.E002"))
        fields = set(action.serializer().fields)
        unknown = [name for name in action.editable_fields if name not in fields]
        if unknown:
            errors.append(
                Error(
                    f"{where}: editable fields {', '.join(unknown)} are not payload fields.",
                    hint=f"Payload fields: {', '.join(sorted(fields))}.",
                    id="approvals.E003",
                )
            )
        if action.amount_field and action.amount_field not in fields:
            errors.append(
                Error(f"{where}: amount_field {action.amount_field!r} is not a payload field.", id="approvals.E004")
            )
        try:
            get_template(action.template)
        except TemplateDoesNotExist:
            errors.append(Error(f"{where}: reviewer template {action.template!r} does not exist.", id="approvals.E005"))
    return errors


def check_settings(app_configs, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    site = urlparse(app_settings.SITE_URL or "")
    if site.scheme not in {"http", "https"} or not site.netloc:
        errors.append(
            Error(
                "HITL_CRM_SITE_URL must be an absolute http(s) URL (links in emails use it).",
                hint="For example https://crm.example.com",
                id="approvals.E006",
            )
        )
    for name in (
        "MAX_ESCALATIONS",
        "MAX_ATTEMPTS",
        "EXECUTION_LEASE_SECONDS",
        "LINK_MAX_AGE_SECONDS",
        "DEFAULT_SLA_MINUTES",
    ):
        value = getattr(app_settings, name)
        minimum = 0 if name == "MAX_ESCALATIONS" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            errors.append(
                Error(
                    f"HITL_CRM_APPROVALS_{name} must be a whole number ≥ {minimum} (got {value!r}).",
                    id="approvals.E007",
                )
            )
    lease = app_settings.EXECUTION_LEASE_SECONDS
    time_limit = getattr(settings, "CELERY_TASK_TIME_LIMIT", None)
    if isinstance(lease, int) and time_limit and lease <= time_limit:
        errors.append(
            Error(
                f"HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS ({lease}) must exceed "
                f"CELERY_TASK_TIME_LIMIT ({time_limit}).",
                hint="Otherwise a claim could be taken over while its handler still runs (double execution).",
                id="approvals.E008",
            )
        )
    if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and not getattr(
        settings, "CELERY_TASK_REJECT_ON_WORKER_LOST", False
    ):
        errors.append(
            Error(
                "CELERY_TASK_REJECT_ON_WORKER_LOST should be True with a real broker.",
                hint="A task whose worker dies must be redelivered, or approved actions stall.",
                id="approvals.E009",
            )
        )
    return errors


def check_audit_settings(app_configs, **kwargs) -> list[CheckMessage]:
    """The audit trail's HMAC key and anchor recipients."""
    messages: list[CheckMessage] = []
    key = app_settings.AUDIT_KEY
    if not isinstance(key, str):
        messages.append(Error("HITL_CRM_AUDIT_KEY must be a string.", id="approvals.E011"))
    elif not key and not settings.DEBUG:
        messages.append(
            Warning(
                "HITL_CRM_AUDIT_KEY is not set: the audit trail's MACs use a key derived from SECRET_KEY.",
                hint="Set a dedicated random key of 32+ characters (and keep it out of database backups); "
                "rotating SECRET_KEY would otherwise make every audit event fail verification.",
                id="approvals.W010",
            )
        )
    elif key and len(key) < 32:
        messages.append(
            Error(
                f"HITL_CRM_AUDIT_KEY is too short ({len(key)} characters; at least 32 are needed).",
                id="approvals.E011",
            )
        )
    for address in app_settings.AUDIT_ANCHOR_EMAILS:
        try:
            validate_email(address)
        except ValidationError:
            messages.append(
                Error(
                    f"HITL_CRM_AUDIT_ANCHOR_EMAILS contains {address!r}, which is not an email address.",
                    hint="A comma-separated list, e.g. security@example.com,ops@example.com",
                    id="approvals.E012",
                )
            )
    return messages

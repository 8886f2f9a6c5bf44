"""System checks for the service desk (ids service.E001…)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string

from service.conf import app_settings


def check_settings(app_configs, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    path = app_settings.PAYMENT_GATEWAY
    try:
        gateway = import_string(path)
    except ImportError as exc:
        errors.append(
            Error(
                f"HITL_CRM_SERVICE_PAYMENT_GATEWAY: cannot import {path!r} ({exc}).",
                hint="A dotted path to a class with a refund(*, idempotency_key, amount, currency, order_ref) method.",
                id="service.E001",
            )
        )
    else:
        if not callable(getattr(gateway, "refund", None)):
            errors.append(
                Error(f"HITL_CRM_SERVICE_PAYMENT_GATEWAY: {path!r} has no refund() method.", id="service.E002")
            )
    for name in (
        "SLA_HOURS",
        "REFUND_WINDOW_DAYS",
        "REFUND_MAX_PRIOR",
        "KNOWLEDGE_TOP_K",
        "EXEMPLARS",
        "MAX_INBOUND_BYTES",
    ):
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(f"HITL_CRM_SERVICE_{name} must be a whole number ≥ 1 (got {value!r}).", id="service.E003")
            )
    try:
        limit = app_settings.REFUND_POLICY_LIMIT
    except (InvalidOperation, ValueError, TypeError):
        limit = None
    if limit is None or not limit.is_finite() or limit < Decimal(0):
        errors.append(Error("HITL_CRM_SERVICE_REFUND_POLICY_LIMIT must be an amount ≥ 0.", id="service.E004"))
    currency = app_settings.DEFAULT_CURRENCY
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
        errors.append(
            Error("HITL_CRM_SERVICE_DEFAULT_CURRENCY must be a three-letter ISO code such as USD.", id="service.E005")
        )
    return errors

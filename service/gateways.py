"""Payment gateways: how an approved refund becomes money. Only the delivery kernel calls them,
for ``service.handlers``.

``HITL_CRM_SERVICE_PAYMENT_GATEWAY`` names the class (dotted path). The default,
:class:`LedgerGateway`, writes one :class:`~service.models.LedgerEntry` per refund and is
what a business without a payment API reconciles by hand. A real gateway (Stripe, Adyen …)
implements the same protocol and passes ``idempotency_key`` to the provider, whose own
idempotency then guarantees the customer is paid once even if we call twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from hitl_crm.delivery.channels import DeliveryDeferred, DeliveryRefused
from service.conf import app_settings

if TYPE_CHECKING:
    from hitl_crm.delivery.models import Delivery


@dataclass(frozen=True)
class GatewayResult:
    reference: str
    amount: Decimal
    currency: str
    duplicate: bool = False  # True when the key had been used before: nothing new was paid


class GatewayError(Exception):
    """A permanent refusal (card closed, order unknown …). Raise
    ``approvals.exceptions.TransientError`` instead for anything worth retrying."""


@runtime_checkable
class PaymentGateway(Protocol):
    """Pays refunds. ``refund`` must be idempotent per ``idempotency_key``: a second call with the
    same key pays nothing and returns the first call's result (``duplicate=True``)."""

    def refund(
        self,
        *,
        idempotency_key: str,
        amount: Decimal,
        currency: str,
        order_ref: str,
        metadata: Mapping[str, str] | None = None,
    ) -> GatewayResult: ...


class LedgerGateway:
    """The default: a row in our own ledger, unique per idempotency key."""

    def refund(
        self,
        *,
        idempotency_key: str,
        amount: Decimal,
        currency: str,
        order_ref: str,
        metadata: Mapping[str, str] | None = None,
    ) -> GatewayResult:
        from service.models import LedgerEntry

        if not idempotency_key:
            raise GatewayError("A refund needs an idempotency key.")
        existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    entry = LedgerEntry.objects.create(
                        idempotency_key=idempotency_key,
                        metadata=dict(metadata or {}),
                        order_ref=order_ref,
                        amount=amount,
                        currency=currency,
                        reference="LEDGER-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20].upper(),
                    )
                return GatewayResult(entry.reference, entry.amount, entry.currency)
            except IntegrityError:  # a concurrent call with the same key won
                existing = LedgerEntry.objects.get(idempotency_key=idempotency_key)
        if existing.amount != amount or existing.currency != currency:
            raise GatewayError(
                f"Idempotency key {idempotency_key} was used for {existing.amount} {existing.currency}, "
                f"not {amount} {currency}."
            )
        return GatewayResult(existing.reference, existing.amount, existing.currency, duplicate=True)


def get_gateway() -> PaymentGateway:
    return import_string(app_settings.PAYMENT_GATEWAY)()


REFUND_TRANSMITTER = "service.gateways.transmit_refund"


def transmit_refund(delivery: Delivery) -> dict[str, Any]:
    """The delivery kernel's transmitter for refunds: call the gateway with the delivery's key
    (the approval's execution key) as idempotency key.

    A ``TransientError`` (the gateway certainly did not pay) is retried later; a
    ``GatewayError`` is a refusal; anything else (a timeout after the request left) leaves the
    outcome unknown, for a person.
    """
    from approvals.exceptions import TransientError

    terms = delivery.content
    try:
        result = get_gateway().refund(
            idempotency_key=delivery.key,
            amount=Decimal(terms["amount"]),
            currency=terms["currency"],
            order_ref=terms["order_ref"],
            metadata=terms.get("metadata") or {},
        )
    except TransientError as exc:
        raise DeliveryDeferred(str(exc)) from exc
    except GatewayError as exc:
        raise DeliveryRefused(f"The payment gateway refused the refund: {exc}") from exc
    return {
        "reference": result.reference,
        "amount": str(result.amount),
        "currency": result.currency,
        "duplicate": result.duplicate,
    }

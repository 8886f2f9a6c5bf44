"""Durable states of outbound effects (DESIGN.md §1: prepared → sending → sent | failed | unknown)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Delivery(models.Model):
    """One external effect (an email, a refund), unique per key (execution key or per-message key)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PAYMENT = "payment", "Payment gateway"
        WEBHOOK = "webhook", "Webhook"

    class Kind(models.TextChoices):
        REPLY = "reply", "Case reply"
        FOLLOWUP = "followup", "Lead follow-up"
        EMAIL = "email", "Email to a contact"
        CAMPAIGN = "campaign", "Campaign email"
        NOTIFICATION = "notification", "Reviewer notification"
        REFUND = "refund", "Refund"
        PURCHASE_ORDER = "purchase_order", "Purchase order"
        PRICE_CHANGE = "price_change", "Price change"
        BUNDLE = "bundle", "Bundle"

    class State(models.TextChoices):
        PREPARED = "prepared", "Prepared"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not accepted"
        UNKNOWN = "unknown", "Possibly sent"

    key = models.CharField(max_length=200, unique=True, help_text="Execution key or per-message key.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PREPARED)
    recipient = models.CharField(max_length=254, blank=True)
    summary = models.CharField(max_length=300, blank=True, help_text="Subject line or amount, for people.")
    content = models.JSONField(default=dict, help_text="Exactly what is sent (message fields or refund terms).")
    transmitter = models.CharField(max_length=200, help_text="Dotted path of the function that performs the effect.")
    on_resolved = models.CharField(
        max_length=200, blank=True, help_text="Dotted path called with the delivery id after a person decided."
    )
    source = models.CharField(max_length=100, blank=True, help_text="What it belongs to, e.g. approvals.request:12.")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who it went out for: the approver, else the requester; empty for the system.",
    )
    source_url = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["state", "created_at"], name="delivery_state_idx")]
        permissions = [("resolve_delivery", "Can decide on deliveries that were possibly sent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient or '?'} ({self.get_state_display().lower()})"

    @property
    def needs_a_person(self) -> bool:
        return self.state in (self.State.UNKNOWN, self.State.FAILED)


class DeliveryEvent(models.Model):
    """Append-only history of a delivery: every state change, with the person who made it (if any)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    verb = models.CharField(max_length=40)
    state = models.CharField(max_length=10, choices=Delivery.State.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.verb} ({self.state})"

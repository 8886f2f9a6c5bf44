"""The service desk: cases, their message threads, the knowledge base, refunds and the refund ledger.

State changes happen in ``service.services`` (and the approval handlers in
``service.handlers``); nothing here changes state in ``save()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from hitl_crm.choices import Risk  # the kernel's; kept importable from here (and as ``Case.Risk``)
from hitl_crm.tags import TagsField

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest


class Case(models.Model):
    """One customer problem and the conversation about it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING_CUSTOMER = "pending_customer", "Pending customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        API = "api", "API"
        WEB = "web", "Web form"
        PHONE = "phone", "Phone"

    class Source(models.TextChoices):
        AI = "ai", "AI"
        HUMAN = "human", "Person"

    OPEN_STATUSES = (Status.OPEN, Status.PENDING_CUSTOMER)
    Risk = Risk

    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="cases")
    subject = models.CharField(max_length=300)
    thread_key = models.CharField(
        max_length=300, blank=True, help_text="The subject without Re:/Fwd: prefixes, lower-cased (threading)."
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="service_cases"
    )
    tags = TagsField(help_text="Short labels the team puts on the case, e.g. vip, warranty.")
    # triage
    intent = models.CharField(max_length=80, blank=True)
    intent_confidence = models.FloatField(null=True, blank=True)
    intent_source = models.CharField(max_length=10, choices=Source.choices, default=Source.AI)
    sentiment = models.FloatField(null=True, blank=True, help_text="-1 (furious) … 1 (delighted).")
    sentiment_source = models.CharField(max_length=10, choices=Source.choices, default=Source.AI)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.LOW)
    flags = models.JSONField(default=list, blank=True, help_text="What triage found that a person should know.")
    # summary
    summary = models.TextField(blank=True)
    key_points = models.JSONField(default=list, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="Order ids, amounts, dates, products.")
    summary_version = models.PositiveIntegerField(default=0, help_text="The thread version the summary covers.")
    thread_version = models.PositiveIntegerField(default=0, help_text="Goes up with every message in the thread.")
    suggested_article_ids = models.JSONField(default=list, blank=True)
    # hand-off
    needs_human = models.BooleanField(default=False)
    needs_human_reason = models.CharField(max_length=500, blank=True)
    # times
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="The oldest customer message nobody has answered yet (SLA age)."
    )
    last_message_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        permissions = [("view_all_cases", "Can view every case (not only those of own contacts)")]
        indexes = [
            models.Index(fields=["-last_message_at", "-id"], name="service_case_recent"),
            models.Index(fields=["status", "-last_message_at", "-id"], name="service_case_status_recent"),
            models.Index(
                fields=["-last_message_at", "-id"], condition=Q(needs_human=True), name="service_case_needs_human"
            ),
            models.Index(fields=["contact", "thread_key"], name="service_case_thread"),
            models.Index(fields=["intent"], name="service_case_intent"),
            models.Index(fields=["risk"], name="service_case_risk"),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("service:case_detail", args=[self.pk])

    def approval_version(self) -> str:
        """What approvals compares at execution: a reply approved for one version of the thread
        is not sent once the customer has written again (triage edits and status changes are fine)."""
        return f"case-{self.pk}-thread-{self.thread_version}"

    def approval_owner_id(self) -> int | None:
        """Reviewing the AI's draft for a case is the assigned agent's job, so owning the case does
        not bar approving it. Segregation of duties still holds for replies a person wrote: the
        request carries ``requested_by`` and its author can never approve it."""
        return None

    @property
    def is_vip(self) -> bool:
        account = self.contact.account if self.contact_id else None
        return bool(account and account.is_vip)

    @property
    def summary_is_current(self) -> bool:
        return self.summary_version >= self.thread_version

    @cached_property
    def last_inbound(self) -> Message | None:
        """The customer's latest message (what a reply answers)."""
        return self.messages.filter(direction=Message.Direction.INBOUND).order_by("-occurred_at", "-id").first()


class Message(models.Model):
    """One email (or API message) in a case's thread, inbound from the customer or outbound to them."""

    class Direction(models.TextChoices):
        INBOUND = "in", "From the customer"
        OUTBOUND = "out", "To the customer"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender = models.CharField(max_length=254, help_text="Email address of the sender.")
    sender_name = models.CharField(max_length=200, blank=True)
    to = models.CharField(max_length=1000, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    occurred_at = models.DateTimeField(default=timezone.now, help_text="When it was received or sent.")
    received_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The Date header, or when we sent it.")
    message_id = models.CharField(max_length=255, help_text="RFC 5322 Message-ID, with angle brackets.")
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        help_text="For a reply: the customer message it answers.",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For a reply: the person who approved (or wrote) it.",
    )
    approval_request_id = models.BigIntegerField(null=True, blank=True)
    execution_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="The approval that sent it (sent once)."
    )
    processed_at = models.DateTimeField(null=True, blank=True, help_text="When the AI pipeline handled it.")
    pipeline_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"], condition=~Q(message_id=""), name="service_message_unique_message_id"
            )
        ]
        indexes = [
            models.Index(fields=["case", "occurred_at", "id"], name="service_message_thread"),
            models.Index(fields=["direction", "-id"], name="service_message_direction"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.subject or self.body[:40]}"

    @property
    def is_inbound(self) -> bool:
        return self.direction == self.Direction.INBOUND


class KnowledgeArticle(models.Model):
    """What the business knows and promises; the only ground an AI draft may stand on."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField()
    tags = models.CharField(max_length=300, blank=True, help_text="Comma-separated, e.g. shipping, returns")
    published = models.BooleanField(default=False, help_text="Only published articles ground AI drafts.")
    last_reviewed_at = models.DateField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["published", "title"], name="service_article_published")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("service:kb_detail", args=[self.pk])

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]


class RefundRequest(models.Model):
    """A customer's ask for money back, the policy's recommendation, and what became of it."""

    class Recommendation(models.TextChoices):
        APPROVE = "approve", "Approve"
        DENY = "deny", "Deny"
        ESCALATE = "escalate", "Escalate"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for approval"
        ISSUED = "issued", "Issued"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="refunds")
    source_message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The customer message that asked for it.",
    )
    order_ref = models.CharField(max_length=64, blank=True)
    order_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    reason = models.TextField(blank=True)
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices)
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the pipeline proposed it.",
    )
    amount_issued = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    gateway_reference = models.CharField(max_length=100, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Not a column: ``service.selectors.case_refunds`` sets it to the refund's latest approval request.
    approval: ApprovalRequest | None

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_message"],
                condition=Q(source_message__isnull=False),
                name="service_refund_one_per_message",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="service_refund_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="service_refund_status")]

    def __str__(self) -> str:
        ref = f" for {self.order_ref}" if self.order_ref else ""
        return f"Refund {self.amount} {self.currency}{ref} (case #{self.case_id})"

    def get_absolute_url(self) -> str:
        return reverse("service:case_detail", args=[self.case_id])

    def approval_version(self) -> str:
        """A refund approved for one amount/order is never issued for another."""
        return f"refund-{self.pk}-{self.status}-{self.amount}-{self.currency}-{self.order_ref}"


class LedgerEntry(models.Model):
    """The default payment gateway's book: one row per refund paid, keyed by the approval's execution key."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"

    idempotency_key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REFUND)
    metadata = models.JSONField(default=dict, blank=True, help_text="E.g. the refund request and case ids.")
    order_ref = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.reference}: {self.kind} {self.amount} {self.currency}"


class TriageCorrection(models.Model):
    """A person's correction of the AI's intent or sentiment: the labelled data triage learns from."""

    class Field(models.TextChoices):
        INTENT = "intent", "Intent"
        SENTIMENT = "sentiment", "Sentiment"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="corrections")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    field = models.CharField(max_length=10, choices=Field.choices)
    before = models.CharField(max_length=80, blank=True)
    after = models.CharField(max_length=80)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.before or '—'} → {self.after}"

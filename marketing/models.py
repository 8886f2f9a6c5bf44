"""Campaigns, segments, AI copy variants, sends, suppression and predictive scores.

State changes happen in ``marketing.services`` (and sending in ``marketing.delivery``);
nothing here changes state in ``save()``.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

STYLE_CHOICES = [
    ("benefit", "Benefit"),
    ("question", "Question"),
    ("urgency", "Urgency"),
    ("personal", "Personal"),
    ("number", "Number"),
    ("own", "Own words"),
]


class Segment(models.Model):
    """A saved audience: rules over contacts, accounts, activity and predictive scores.

    ``rules`` is a list of ``{"field", "op", "value"[, "days"]}`` (see ``marketing.segments``),
    all of which must hold; it compiles to one SQL query.
    """

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    rules = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:segment_detail", args=[self.pk])


class Campaign(models.Model):
    """One email campaign: a brief, curated variants, an audience and (optionally) an A/B test.

    ``draft → variants_approved → in_review → scheduled → sending → (testing → sending) → sent``;
    any state before sending may be cancelled. Nothing is sent unless an approval request
    ``marketing.send_campaign`` for that phase was approved and executed.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VARIANTS_APPROVED = "variants_approved", "Variants approved"
        IN_REVIEW = "in_review", "Waiting for approval"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        TESTING = "testing", "Test sent — pick the winner"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    class Metric(models.TextChoices):
        OPEN = "open", "Opens"
        CLICK = "click", "Clicks"
        CONVERSION = "conversion", "Conversions"

    class CopyKind(models.TextChoices):
        SUBJECT = "subject", "Subject lines"
        AD = "ad", "Ad copy (opening line)"

    EDITABLE = (Status.DRAFT,)

    name = models.CharField(max_length=150)
    goal = models.CharField(max_length=300, blank=True, help_text="What success looks like, e.g. 'Pre-orders'.")
    brief = models.TextField(help_text="What the email is about; the AI writes variants from it.")
    product = models.CharField(max_length=150, blank=True)
    audience_note = models.CharField(max_length=150, blank=True, help_text="Who it is for, in words (for the AI).")
    copy_kind = models.CharField(max_length=10, choices=CopyKind.choices, default=CopyKind.SUBJECT)
    default_body = models.TextField(blank=True, help_text="Email body that AI subject lines are paired with.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns")
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as it is approved.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    # the A/B test
    test_metric = models.CharField(max_length=12, choices=Metric.choices, default=Metric.CLICK)
    baseline_rate = models.FloatField(
        default=0.03,
        validators=[MinValueValidator(0.0001), MaxValueValidator(0.95)],
        help_text="The rate you usually see for the metric, e.g. 0.03 for 3% clicks.",
    )
    min_detectable_effect = models.FloatField(
        default=0.01,
        validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)],
        help_text="Smallest absolute lift worth detecting, e.g. 0.01 = one percentage point.",
    )
    power = models.FloatField(default=0.8, validators=[MinValueValidator(0.5), MaxValueValidator(0.99)])
    split = models.JSONField(default=dict, blank=True, help_text="The plan fixed at submission.")
    approved_content = models.JSONField(
        default=dict, blank=True, help_text="Per phase: the variants exactly as approved, and the execution key."
    )
    winner_variant = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="marketing_campaign_due")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:campaign_detail", args=[self.pk])

    def approval_version(self) -> str:
        """What an approval is bound to: the state, audience, plan and the approved variants.

        The approvals executor refuses to run a request whose campaign changed in any of
        these after the decision (tracking and counters do not count as changes).
        """
        variants = list(
            self.variants.filter(status=Variant.Status.APPROVED)
            .order_by("id")
            .values_list("id", "subject", "preheader", "body", "style")
        )
        material = [self.status, self.segment_id, str(self.scheduled_at), self.split, self.winner_variant_id, variants]
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:32]


class Variant(models.Model):
    """One version of the email: proposed by the AI or written by a person, curated by a marketer."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Shortlisted"
        REJECTED = "rejected", "Rejected"

    class Origin(models.TextChoices):
        AI = "ai", "AI"
        HUMAN = "human", "Person"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    subject = models.CharField(max_length=150)
    preheader = models.CharField(max_length=150, blank=True, help_text="The preview text after the subject.")
    body = models.TextField()
    style = models.CharField(max_length=12, choices=STYLE_CHOICES, default="own")
    origin = models.CharField(max_length=6, choices=Origin.choices, default=Origin.HUMAN)
    ai_run = models.ForeignKey("ai.AiRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ai_score = models.FloatField(null=True, blank=True, help_text="The AI's own quality score (spam words, length).")
    flags = models.JSONField(default=list, blank=True, help_text="Warnings for the marketer, e.g. spam-like words.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "id"]

    def __str__(self) -> str:
        return self.subject


class Send(models.Model):
    """One contact's email of one campaign: at most one per (campaign, contact).

    ``pending`` (planned, waiting for approval) → ``queued`` (approved) → ``sending`` (claimed by
    a worker, being handed to the mail backend) → ``sent``; or ``skipped`` (consent withdrawn or
    suppressed by send time), ``failed`` (refused by the mail server), ``interrupted`` (the
    worker died while handing it over: never retried automatically, so nobody gets it twice),
    ``cancelled``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"
        CANCELLED = "cancelled", "Cancelled"

    class Phase(models.TextChoices):
        TEST = "test", "Test cell"
        WINNER = "winner", "Remainder (winner)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="marketing_sends")
    variant = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="sends")
    phase = models.CharField(max_length=6, choices=Phase.choices, default=Phase.TEST)
    bucket = models.FloatField(help_text="The contact's deterministic split value in [0, 1).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="marketing_one_send_per_contact"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="marketing_send_progress"),
            models.Index(fields=["campaign", "variant"], name="marketing_send_variant"),
            models.Index(fields=["status", "claimed_at"], name="marketing_send_claims"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}→{self.contact_id} ({self.status})"


class Conversion(models.Model):
    """A purchase (or other goal) credited to a send, reported by a partner or the web shop."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="conversions")
    occurred_at = models.DateTimeField()
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="The partner's order id (deduplicates).")
    source = models.CharField(max_length=40, default="api")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["send", "external_id"], condition=~Q(external_id=""), name="marketing_conversion_once"
            )
        ]

    def __str__(self) -> str:
        return f"Conversion of send {self.send_id} at {self.occurred_at:%Y-%m-%d}"


class Suppression(models.Model):
    """An address that must never receive marketing email again, whatever its consent says."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        MANUAL = "manual", "Added by staff"

    email = models.EmailField(unique=True, help_text="Stored in lower case.")
    reason = models.CharField(max_length=14, choices=Reason.choices, default=Reason.MANUAL)
    source = models.CharField(max_length=60, blank=True, help_text="Where it came from: link, one-click, admin, …")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email


class PredictiveModel(models.Model):
    """A trained logistic regression, stored as JSON (feature spec, scaling, coefficients) — never a pickle."""

    class Kind(models.TextChoices):
        CHURN = "churn", "Churn risk"
        PROPENSITY = "propensity", "Next-purchase propensity"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    version = models.PositiveIntegerField()
    params = models.JSONField()
    metrics = models.JSONField(default=dict, help_text="roc_auc (hold-out), n_train, n_test, positives, …")
    trained_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=False)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="marketing_model_version"),
            models.UniqueConstraint(fields=["kind"], condition=Q(active=True), name="marketing_one_active_model"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class ContactScore(models.Model):
    """A contact's latest churn risk or purchase propensity, with the factors behind it."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="marketing_scores")
    kind = models.CharField(max_length=12, choices=PredictiveModel.Kind.choices)
    value = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    factors = models.JSONField(default=list, blank=True)
    model_version = models.PositiveIntegerField()
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "kind"], name="marketing_one_score_per_kind")]
        indexes = [models.Index(fields=["kind", "value"], name="marketing_score_kind_value")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value:.2f} for contact {self.contact_id}"

    @property
    def band(self) -> str:
        return "high" if self.value >= 0.6 else "medium" if self.value >= 0.3 else "low"

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from hitl_crm import choices


class AiRun(models.Model):
    """Provenance of one call to the AI engine: what it saw, what it said, what it cost."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        INVALID = "invalid", "Invalid output"

    Risk = choices.Risk  # the kernel's risk levels

    skill = models.CharField(max_length=50)
    backend = models.CharField(max_length=30)
    model_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=30, blank=True)
    input_redacted = models.JSONField(default=dict, blank=True, help_text="What the AI saw, after PII redaction.")
    output = models.JSONField(default=dict, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    risk = models.CharField(
        max_length=10, choices=Risk.choices, default=Risk.LOW, help_text="Risk after the guards looked at the output."
    )
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Calls made to the backend, retries included.")
    latency_ms = models.FloatField(default=0)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    error = models.TextField(blank=True)
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["skill", "-created_at"]),
            models.Index(fields=["subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.skill} via {self.backend} ({self.status})"

    @property
    def ok(self) -> bool:
        return self.status == self.Status.OK


class IntentExample(models.Model):
    """One human-labelled message: the training data of the offline intent classifier."""

    class Source(models.TextChoices):
        HUMAN = "human", "Labelled by a person"
        CORRECTION = "correction", "A reviewer's correction of the AI"
        IMPORT = "import", "Imported history"

    text = models.TextField()
    intent = models.CharField(max_length=80, db_index=True)
    category = models.CharField(max_length=80, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.HUMAN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.intent}: {self.text[:60]}"


class TrainedModel(models.Model):
    """A locally trained model, stored as JSON parameters (never a pickle), one active per kind."""

    class Kind(models.TextChoices):
        INTENT = "intent", "Intent classifier"

    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.INTENT)
    version = models.PositiveIntegerField()
    params = models.JSONField(help_text="Everything inference needs, as plain JSON numbers and strings.")
    metrics = models.JSONField(default=dict, blank=True)
    trained_on = models.PositiveIntegerField(default=0, help_text="Number of labelled examples.")
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="ai_trainedmodel_unique_version"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(active=True), name="ai_trainedmodel_one_active_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}{' (active)' if self.active else ''}"

    @property
    def label(self) -> str:
        return f"{self.kind}-v{self.version}"

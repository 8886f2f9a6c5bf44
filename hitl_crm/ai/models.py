from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AiRun(models.Model):
    """Provenance of one call to the AI engine: what it saw, what it said, what it cost."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        INVALID = "invalid", "Invalid output"

    skill = models.CharField(max_length=50)
    backend = models.CharField(max_length=30)
    model_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=30, blank=True)
    input_redacted = models.JSONField(default=dict, blank=True, help_text="What the AI saw, after PII redaction.")
    output = models.JSONField(default=dict, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
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

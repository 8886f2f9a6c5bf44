"""Leads, their engagement, scoring rules and learned models, score history and CSV imports.

State changes happen in ``leads.services``; nothing here changes state in ``save()`` (``Lead.save``
only keeps the derived ``search_text`` current).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from hitl_crm.contacts.models import search_text_expression
from hitl_crm.money import Money, validate_currency_code
from hitl_crm.tags import TagsField

#: Where a lead not scored yet ranks: below every score (scores are 0–100), so the prospects order
#: ``COALESCE(score, -1) DESC, id DESC`` has no NULL key and is one index range (``leads_rank_listed``).
UNSCORED_RANK = -1


def rank_expression() -> Coalesce:
    """``COALESCE(score, -1)``, typed as a plain integer: as the score's own (positive) type a
    comparison with -1 would be taken for always true and dropped from the query."""
    return Coalesce(F("score"), Value(UNSCORED_RANK), output_field=models.IntegerField())


#: The fields ``Lead.search_text`` is built from (``account`` for its name).
SEARCH_SOURCES = frozenset({"email", "first_name", "last_name", "company", "account", "account_id"})


def lead_search_text_of(*, email: str, first_name: str, last_name: str, company: str, account_name: str) -> str:
    """The lower-cased text a lead is found by; the same string the SQL in the leads migrations and
    ``lead_search_expression`` builds (fields joined by single spaces, the linked account's name last)."""
    return f"{email} {first_name} {last_name} {company} {account_name}".lower()


def lead_search_expression() -> Lower:
    """SQL for ``Lead.search_text``: ``Lead.objects.filter(…).update(search_text=lead_search_expression())``."""
    return search_text_expression("email", "first_name", "last_name", "company")


class Lead(models.Model):
    """A prospect: a person (inline or a linked contact) at a company (inline or a linked account)."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        WORKING = "working", "Working"
        QUALIFIED = "qualified", "Qualified"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    CLOSED = (Status.WON, Status.LOST)

    class Tier(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"
        D = "D", "D"

    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True, help_text="Stored lower-case; one lead per address.")
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, e.g. +14155550123")
    title = models.CharField(max_length=120, blank=True)
    company = models.CharField(max_length=200, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True, help_text="Company size.")
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=100, blank=True, help_text="Where the lead came from: Referral, Web form, …")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    estimated_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    value_currency = models.CharField(
        max_length=3,
        blank=True,
        validators=[validate_currency_code],
        help_text="ISO 4217 code of the estimated value, e.g. EUR; empty while there is no value.",
    )
    tags = TagsField()
    do_not_email = models.BooleanField(default=False, help_text="The lead asked not to be emailed.")
    external_id = models.CharField(max_length=100, blank=True, help_text="Id in the system it came from.")
    attributes = models.JSONField(default=dict, blank=True, help_text="Business-specific fields.")
    lead_import = models.ForeignKey(
        "LeadImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads", db_index=False
    )

    # Scoring. ``score`` is what people see and rank by: the override when there is one,
    # otherwise the computed score.
    score = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    tier = models.CharField(max_length=1, choices=Tier.choices, blank=True)
    computed_score = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    model_probability = models.FloatField(null=True, blank=True)
    rules_points = models.IntegerField(null=True, blank=True)
    score_factors = models.JSONField(default=list, blank=True, help_text="Top factors, in plain words.")
    model_version = models.PositiveIntegerField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    score_dirty_at = models.DateTimeField(null=True, blank=True, help_text="Changed since last scored.")
    override_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], help_text="A person's correction of the score."
    )
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    override_at = models.DateTimeField(null=True, blank=True)

    last_engaged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was won or lost; its score and training features are as of then."
    )
    search_text = models.TextField(
        blank=True,
        default="",
        editable=False,
        help_text="Maintained: lower-cased email, names, company and linked account name "
        "(trigram-indexed on PostgreSQL).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "-id"]
        indexes = [
            models.Index(fields=["-score", "-id"], name="leads_rank"),
            models.Index(fields=["owner", "-score", "-id"], name="leads_owner_rank"),
            # The prospects list's keyset order (leads.selectors.lead_rank_keys), unscored leads last.
            models.Index(rank_expression().desc(), F("id").desc(), name="leads_rank_listed"),
            # No index on tier or status: lists walk the rank index (A-tier leads are at its top),
            # and every index is rewritten by each rescore (scores change, so no HOT updates).
            models.Index(fields=["score_dirty_at"], condition=Q(score_dirty_at__isnull=False), name="leads_dirty"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["email"], condition=~Q(email=""), name="leads_unique_email"),
            models.UniqueConstraint(fields=["external_id"], condition=~Q(external_id=""), name="leads_unique_ext_id"),
        ]
        permissions = [("override_lead_score", "Can override a lead's score")]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keeps ``search_text`` current on every save that may change what it is built from (a save of
        other fields only, e.g. ``update_fields=["score"]``, leaves it alone). Writes that bypass ``save``
        set it with ``fresh_search_text`` before ``bulk_create``/``bulk_update``, or refresh it with
        ``lead_search_expression`` in an ``update()``."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or SEARCH_SOURCES & set(update_fields):
            self.search_text = self.fresh_search_text()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    def fresh_search_text(self) -> str:
        """What ``search_text`` should be for the fields in hand (the account is read if not cached)."""
        account = self.account if self.account_id else None  # cached when the caller set or joined it
        return lead_search_text_of(
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            account_name=account.name if account is not None else "",
        )

    def approval_owner_id(self) -> int | None:
        """The rep who owns a lead is the one meant to edit and approve the AI's follow-up, so
        owning the lead does not bar approving it. Segregation of duties still holds for a
        follow-up a person wrote: its request carries ``requested_by`` and its author can never
        approve it."""
        return None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def display_name(self) -> str:
        return self.full_name or self.email or self.company or f"Lead #{self.pk}"

    @property
    def company_name(self) -> str:
        return self.company or (self.account.name if self.account_id and self.account else "")

    @property
    def email_address(self) -> str:
        """Where a follow-up goes: the lead's own address, else its contact's."""
        return self.email or (self.contact.email if self.contact_id and self.contact else "")

    @property
    def value(self) -> Money | None:
        """The estimated value with its currency (the default currency for one stored without)."""
        if self.estimated_value is None:
            return None
        from leads.conf import app_settings

        return Money(self.estimated_value, self.value_currency or app_settings.DEFAULT_CURRENCY)

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED

    @property
    def positive_factors(self) -> list[dict[str, Any]]:
        return [f for f in self.score_factors or [] if f.get("value", 0) > 0]

    @property
    def negative_factors(self) -> list[dict[str, Any]]:
        return [f for f in self.score_factors or [] if f.get("value", 0) < 0]

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])

    @property
    def detail_url(self) -> str:
        """The lead page, or "" where the leads pages are not routed (e.g. another app's tests)."""
        try:
            return self.get_absolute_url()
        except NoReverseMatch:
            return ""

    def approval_version(self) -> str:
        """What a follow-up approval is bound to: who gets it and whether they may.

        Scores and engagement change all the time and do not make an approved email wrong,
        so they are left out; a new address, name, owner, status or an opt-out are not.
        """
        material = [
            self.email_address,
            self.first_name,
            self.last_name,
            self.owner_id,
            self.status,
            self.do_not_email,
            self.contact_id,
        ]
        return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:32]


class LeadEvent(models.Model):
    """One engagement signal (or an outbound email we sent), with when it happened."""

    class Kind(models.TextChoices):
        EMAIL_OPENED = "email_opened", "Email opened"
        EMAIL_CLICKED = "email_clicked", "Email link clicked"
        SITE_VISIT = "site_visit", "Site visit"
        FORM = "form", "Form submitted"
        MEETING = "meeting", "Meeting"
        PURCHASE = "purchase", "Purchase"
        EMAIL_SENT = "email_sent", "Email sent"
        NOTE = "note", "Note"

    #: Kinds that say the lead engaged with us (outbound mail and notes do not).
    ENGAGEMENT = (Kind.EMAIL_OPENED, Kind.EMAIL_CLICKED, Kind.SITE_VISIT, Kind.FORM, Kind.MEETING, Kind.PURCHASE)

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True, help_text="Purchases.")
    data = models.JSONField(default=dict, blank=True, help_text="Page, campaign, subject, …")
    source = models.CharField(max_length=40, default="web", help_text="web, api, import, approvals, demo, …")
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The partner's id: a retry is not a second event."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="leads_event_timeline"),
            models.Index(fields=["kind", "occurred_at"], name="leads_event_kind"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="leads_event_unique_ext_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        data = self.data or {}
        detail = data.get("subject") or data.get("page") or data.get("title") or data.get("form") or ""
        text = self.get_kind_display()
        if detail:
            text += f": {detail}"
        if self.amount is not None:
            text += f" ({self.amount:,.2f})"
        return text


class ScoringRule(models.Model):
    """A parameter the business defines: "Employees ≥ 200: +15", "Visited pricing in 14 days: +20"."""

    class Target(models.TextChoices):
        FIELD = "field", "Lead field"
        ATTRIBUTE = "attribute", "Custom attribute"
        ENGAGEMENT = "engagement", "Engagement"

    class Operator(models.TextChoices):
        EQ = "eq", "equals"
        NE = "ne", "does not equal"
        GT = "gt", ">"
        GTE = "gte", "≥"
        LT = "lt", "<"
        LTE = "lte", "≤"
        IN = "in", "is one of"
        CONTAINS = "contains", "contains"
        EXISTS = "exists", "is given"

    class Aggregate(models.TextChoices):
        COUNT = "count", "Number of events"
        SUM = "sum", "Total amount"
        DAYS_SINCE = "days_since", "Days since the last one"

    name = models.CharField(max_length=120, help_text="Shown as the reason, e.g. “Employees ≥ 200”.")
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.FIELD)
    path = models.CharField(
        max_length=100,
        help_text="Field name (employees, source, …), attribute key, or event kind (site_visit, purchase, any).",
    )
    operator = models.CharField(max_length=10, choices=Operator.choices, default=Operator.EQ)
    value = models.JSONField(null=True, blank=True, help_text="Compared value; a list for “is one of”.")
    aggregate = models.CharField(
        max_length=10, choices=Aggregate.choices, default=Aggregate.COUNT, blank=True, help_text="Engagement only."
    )
    within_days = models.PositiveIntegerField(null=True, blank=True, help_text="Engagement only: look back this far.")
    event_match = models.JSONField(
        default=dict, blank=True, help_text='Engagement only: event data must contain these, e.g. {"page": "pricing"}.'
    )
    points = models.IntegerField(validators=[MinValueValidator(-100), MaxValueValidator(100)])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-active", "-points", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"


class ScoringModel(models.Model):
    """A trained logistic regression, stored as JSON (feature spec, vocabularies, scaling, coefficients)."""

    version = models.PositiveIntegerField(unique=True)
    params = models.JSONField(help_text="features, columns, scaler, coef, intercept — see leads.learning.")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="roc_auc, accuracy, n_train, n_test, positive_rate, n_overrides."
    )
    trained_at = models.DateTimeField(default=timezone.now)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="leads_one_active_model")
        ]
        permissions = [("train_scoringmodel", "Can train and activate scoring models")]

    def __str__(self) -> str:
        return f"Model v{self.version}{' (active)' if self.active else ''}"


class LeadScoreHistory(models.Model):
    """The score a lead had, when, by which model version — or who overrode it and why."""

    class Source(models.TextChoices):
        COMPUTED = "computed", "Computed"
        OVERRIDE = "override", "Override"
        CLEARED = "cleared", "Override removed"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_history")
    score = models.PositiveSmallIntegerField()
    tier = models.CharField(max_length=1, choices=Lead.Tier.choices)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.COMPUTED)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "lead score history"
        indexes = [models.Index(fields=["lead", "-created_at"], name="leads_score_history")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.score} ({self.tier})"


class LeadImport(models.Model):
    """One CSV upload: its text, the column mapping, progress and counts.

    Every data row ends up in exactly one of created, updated, skipped (duplicates) or
    failed; skipped and failed rows have a :class:`LeadImportError` naming the column and
    the reason, so nothing is lost silently.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.FAILED)

    file_name = models.CharField(max_length=255)
    content = models.TextField(help_text="The file, decoded.")
    encoding = models.CharField(max_length=30)
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list)
    mapping = models.JSONField(
        default=dict, blank=True, help_text='{"column index": "field:email" | "attribute:Key" | "ignore"}'
    )
    update_existing = models.BooleanField(default=False, help_text="Update leads that already exist (by email or id).")
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0)
    failed_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the whole import stopped, if it did.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="lead_imports"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk}: {self.file_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def imported_rows(self) -> int:
        return self.created_rows + self.updated_rows

    @property
    def not_imported_rows(self) -> int:
        """Rows skipped: duplicates and rows with errors."""
        return self.skipped_rows + self.failed_rows

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class LeadImportError(models.Model):
    """One row that was not imported (failed) or not imported again (duplicate), and why."""

    lead_import = models.ForeignKey(LeadImport, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField(help_text="Line in the file (the header is line 1).")
    column = models.CharField(max_length=255, blank=True)
    value = models.CharField(max_length=255, blank=True)
    message = models.CharField(max_length=500)
    duplicate = models.BooleanField(default=False)
    row = models.JSONField(default=list, blank=True, help_text="The row as it was in the file.")

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["lead_import", "line"], name="leads_import_error_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

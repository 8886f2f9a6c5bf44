"""The approval gate: requests, decisions, routing policies, audit.

State changes happen only in ``approvals.services``; nothing here changes state in
``save()``. The exceptions: the audit trail refuses to be rewritten, and a request keeps its
queue-order columns (``risk_rank``, ``overdue_rank``) in step with ``risk`` and ``due_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.lookups import Exact, LessThan
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from hitl_crm import choices
from hitl_crm.money import validate_currency_code

if TYPE_CHECKING:
    from approvals.registry import Action

REVIEW_PERMISSION = "review_approvalrequest"
REVIEW_PERMISSION_FULL = f"approvals.{REVIEW_PERMISSION}"


# The kernel's risk levels, importable from here as before.
Risk = choices.Risk
RISK_ORDER = choices.RISK_ORDER


class ApprovalPolicy(models.Model):
    """Who must approve what. Admin-edited; the most specific active match wins.

    Specificity is the number of conditions set; ``priority`` breaks ties (higher wins),
    then the older policy.
    """

    name = models.CharField(max_length=120, unique=True)
    action = models.CharField(max_length=100, db_index=True, help_text="Registry key, e.g. service.send_reply.")
    is_active = models.BooleanField(default=True)
    priority = models.IntegerField(default=0, help_text="Breaks ties between equally specific policies.")
    description = models.TextField(blank=True)
    # conditions (empty = any)
    currency = models.CharField(
        max_length=3,
        validators=[validate_currency_code],
        default="USD",
        help_text="ISO 4217 currency of the amount range. Amounts in another currency are converted with the "
        "exchange-rate table; a currency without a rate is refused.",
    )
    min_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Applies when the amount (in the policy's currency) is at least this (inclusive).",
    )
    max_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Applies when the amount (in the policy's currency) is at most this (inclusive).",
    )
    min_risk = models.CharField(
        max_length=10, choices=Risk.choices, blank=True, help_text="Applies when the request's risk is at least this."
    )
    category = models.CharField(max_length=60, blank=True, help_text="Applies to this category / intent only.")
    vip = models.BooleanField(null=True, blank=True, help_text="Yes: VIP only. No: non-VIP only. Empty: any.")
    negative_sentiment = models.BooleanField(
        null=True, blank=True, help_text="Yes: negative sentiment only. No: all but negative. Empty: any."
    )
    # routing
    reviewer_groups = models.ManyToManyField(Group, blank=True, related_name="approval_policies")
    reviewer_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="approval_policies")
    required_approvals = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Distinct reviewers who must approve the same payload (four-eyes = 2).",
    )
    second_review_edit_ratio = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="A reviewer who rewrites more than this share of the payload (0–1) has written it: "
        "one more approval by a different reviewer is then needed.",
    )
    sla_minutes = models.PositiveIntegerField(
        default=240, validators=[MinValueValidator(1)], help_text="Time to decision before the request escalates."
    )
    escalation_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Gets the request when it is overdue.",
    )
    # autopilot ("earned autonomy"): off by default
    autopilot_enabled = models.BooleanField(default=False)
    autopilot_confidence = models.FloatField(
        default=0.9,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Only requests with at least this AI confidence may be auto-approved.",
    )
    autopilot_target = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Wilson 95% lower bound of 'approved without edits' the action must reach.",
    )
    autopilot_min_samples = models.PositiveIntegerField(default=50, validators=[MinValueValidator(1)])
    autopilot_window_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    autopilot_spot_check = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of qualifying requests still sent to a human.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["action", "-priority", "name"]
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=models.F("max_amount")),
                name="approvals_policy_amount_range",
            ),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="approvals_policy_required_gte_1"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> int:
        return sum(
            value not in (None, "")
            for value in (
                self.min_amount,
                self.max_amount,
                self.min_risk,
                self.category,
                self.vip,
                self.negative_sentiment,
            )
        )


class AuthorityLimit(models.Model):
    """The largest amount, in one currency, members of ``group`` may approve under ``policy``.

    The limit is inclusive: with a limit of 20,000.00 USD, 20,000.00 USD may be approved and
    20,000.01 USD may not. A group may have one limit per currency; an amount in a currency
    the group has no limit in is converted to the limit's currency with the exchange-rate
    table (rounded up to the cent), and refused when no rate is configured. An empty amount
    means no limit. When a policy has limits, a reviewer in none of the listed groups may
    not approve an amount at all.
    """

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="authority_limits")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3, validators=[validate_currency_code], default="USD")
    max_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Inclusive: amounts up to and including this may be approved. Empty: no limit.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "group", "currency"], name="approvals_authority_unique_currency")
        ]

    def __str__(self) -> str:
        return f"{self.group} ≤ {f'{self.max_amount} {self.currency}' if self.max_amount is not None else '∞'}"


class ExchangeRate(models.Model):
    """Admin-maintained: one unit of ``currency`` is worth ``rate`` units of ``base_currency`` from ``valid_from``.

    Policies and limits compare amounts in other currencies through the newest rate valid
    on the day of the check.
    """

    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    base_currency = models.CharField(
        max_length=3, validators=[validate_currency_code], default="USD", help_text="The policy or limit currency."
    )
    rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        validators=[MinValueValidator(Decimal("0.0000000001"))],
        help_text="Units of the base currency per one unit of the currency.",
    )
    valid_from = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["currency", "base_currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "base_currency", "valid_from"], name="approvals_exchange_rate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="approvals_exchange_rate_positive"),
            models.CheckConstraint(
                condition=~Q(currency=models.F("base_currency")), name="approvals_exchange_rate_two_currencies"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.base_currency} from {self.valid_from}"


class AutopilotState(models.Model):
    """Whether autopilot currently holds for a policy and category, and the numbers behind it."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="autopilot_states")
    category = models.CharField(max_length=60, blank=True)
    active = models.BooleanField(default=False)
    stats = models.JSONField(default=dict, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy", "category"], name="approvals_autopilot_unique")]

    def __str__(self) -> str:
        return f"{self.policy} [{self.category or 'any'}]: {'on' if self.active else 'off'}"


# The review queue's order, stored so an index can serve it (see ``ApprovalRequest.risk_rank``).
RISK_RANKS: dict[str, int] = {Risk.CRITICAL: 0, Risk.HIGH: 1, Risk.MEDIUM: 2, Risk.LOW: 3}
RISK_RANK_DEFAULT = 3


def risk_rank_of(risk: str) -> int:
    """0 for critical … 3 for low: the riskiest sort first."""
    return RISK_RANKS.get(risk, RISK_RANK_DEFAULT)


def overdue_rank_of(due_at: datetime | None, now: datetime | None = None) -> int:
    """0 once ``due_at`` has passed (overdue sorts first), else 1."""
    return 0 if due_at is not None and due_at < (now or timezone.now()) else 1


def _risk_rank_value(risk: Any) -> Any:
    """What ``risk_rank`` becomes in an UPDATE that sets ``risk`` to ``risk`` (a value or an expression)."""
    if isinstance(risk, str):
        return risk_rank_of(risk)
    whens = [When(Exact(risk, name), then=Value(rank)) for name, rank in RISK_RANKS.items()]
    return Case(*whens, default=Value(RISK_RANK_DEFAULT), output_field=models.PositiveSmallIntegerField())


def _overdue_rank_value(due_at: Any, now: datetime) -> Any:
    """What ``overdue_rank`` becomes in an UPDATE that sets ``due_at`` to ``due_at``."""
    if due_at is None or isinstance(due_at, datetime):
        return overdue_rank_of(due_at, now)
    return Case(
        When(LessThan(due_at, Value(now)), then=Value(0)),
        default=Value(1),
        output_field=models.PositiveSmallIntegerField(),
    )


class ApprovalRequestQuerySet(models.QuerySet["ApprovalRequest"]):
    """Bulk writes keep the queue-order columns in step, as ``save()`` does.

    ``update(risk=…)`` also sets ``risk_rank``, ``update(due_at=…)`` also sets ``overdue_rank``;
    ``bulk_create`` and ``bulk_update`` fill them from each object's ``risk`` and ``due_at``.
    """

    def update(self, **kwargs: Any) -> int:
        if "risk" in kwargs and "risk_rank" not in kwargs:
            kwargs["risk_rank"] = _risk_rank_value(kwargs["risk"])
        if "due_at" in kwargs and "overdue_rank" not in kwargs:
            kwargs["overdue_rank"] = _overdue_rank_value(kwargs["due_at"], timezone.now())
        return super().update(**kwargs)

    def bulk_create(self, objs: Iterable[ApprovalRequest], *args: Any, **kwargs: Any) -> list[ApprovalRequest]:
        objs = list(objs)
        for obj in objs:
            obj.set_queue_ranks()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Iterable[ApprovalRequest], fields: Iterable[str], batch_size: int | None = None) -> int:
        objs, fields = list(objs), list(fields)
        for obj in objs:
            obj.set_queue_ranks()
        if "risk" in fields and "risk_rank" not in fields:
            fields.append("risk_rank")
        if "due_at" in fields and "overdue_rank" not in fields:
            fields.append("overdue_rank")
        return super().bulk_update(objs, fields, batch_size=batch_size)


class ApprovalRequest(models.Model):
    """A proposal waiting for (or past) human sign-off.

    ``pending → approved | rejected | expired | cancelled``;
    ``approved → executing → executed | failed``; ``failed → approved`` (re-queued by a human).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        EXECUTING = "executing", "Executing"
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Failed"

    Risk = Risk
    OPEN_STATUSES = (Status.PENDING, Status.APPROVED, Status.EXECUTING)

    action = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    proposal = models.JSONField(help_text="The payload as proposed (by the AI). Never changed.")
    final = models.JSONField(help_text="The payload as approved, with reviewers' edits.")
    payload_hash = models.CharField(max_length=64, help_text="sha256 of the canonical JSON of final.")
    version = models.PositiveIntegerField(
        default=1, help_text="Goes up by one on every change of the payload (edit, redraft, revision)."
    )
    subject_version = models.CharField(max_length=64, blank=True)
    ai_run = models.ForeignKey("ai.AiRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)])
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.LOW)
    flags = models.JSONField(default=list, blank=True, help_text="Why a human is needed.")
    context = models.JSONField(default=dict, blank=True, help_text="What policy matching used.")
    category = models.CharField(max_length=60, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    policy = models.ForeignKey(ApprovalPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="approval_requests"
    )
    due_at = models.DateTimeField(help_text="When it escalates next if nobody decides.")
    sla_due_at = models.DateTimeField(help_text="The original due time (for SLA reporting).")
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # The queue's "priority" order (overdue, then risk, then due time) as plain columns, so a
    # partial index on pending rows serves every page (a CASE in ORDER BY cannot use one).
    risk_rank = models.PositiveSmallIntegerField(
        default=RISK_RANK_DEFAULT, editable=False, help_text="0 critical … 3 low; follows risk (save and bulk writes)."
    )
    overdue_rank = models.PositiveSmallIntegerField(
        default=1,
        editable=False,
        help_text="0 once due_at has passed, else 1: set on save and by refresh_overdue (every minute).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it left pending, for any reason.")
    execute_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="End of the undo window: an approved request is not carried out before this (empty: at once).",
    )
    executed_at = models.DateTimeField(null=True, blank=True)
    execution_key = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Idempotency key handed to the handler."
    )
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = ApprovalRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        permissions = [
            (REVIEW_PERMISSION, "Can review approval request"),
            ("cancel_approvalrequest", "Can cancel approval request"),
            ("requeue_approvalrequest", "Can re-queue a failed approval request"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "content_type", "object_id"],
                condition=Q(status__in=["pending", "approved", "executing"]),
                name="approvals_one_open_request_per_subject",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="approvals_request_confidence_0_1",
            ),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="approvals_request_required_gte_1"),
        ]
        indexes = [
            # queue pages walk these in order, probing permissions per row (see selectors)
            models.Index(fields=["id"], condition=Q(status="pending"), name="approvals_pending_by_id"),
            models.Index(fields=["due_at", "id"], condition=Q(status="pending"), name="approvals_pending_by_due"),
            models.Index(
                fields=["overdue_rank", "risk_rank", "due_at", "id"],
                condition=Q(status="pending"),
                name="approvals_pending_priority",
            ),
            models.Index(
                fields=["risk_rank", "due_at", "id"], condition=Q(status="pending"), name="approvals_pending_by_risk"
            ),
            models.Index(fields=["status", "due_at"], name="approvals_status_due"),
            models.Index(fields=["status", "claimed_at"], name="approvals_status_claimed"),
            models.Index(fields=["content_type", "object_id"], name="approvals_subject"),
            models.Index(fields=["action", "status"], name="approvals_action_status"),
            models.Index(fields=["created_at"], name="approvals_created"),
            models.Index(fields=["decided_at"], name="approvals_decided"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} ({self.status})"

    def set_queue_ranks(self, now: datetime | None = None) -> None:
        """``risk_rank`` and ``overdue_rank`` from ``risk`` and ``due_at``."""
        self.risk_rank = risk_rank_of(self.risk)
        self.overdue_rank = overdue_rank_of(self.due_at, now)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.set_queue_ranks()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            fields = list(update_fields)
            if "risk" in fields and "risk_rank" not in fields:
                fields.append("risk_rank")
            if "due_at" in fields and "overdue_rank" not in fields:
                fields.append("overdue_rank")
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)

    @property
    def action_spec(self) -> Action:
        """The registered action; a read-only placeholder if its app is gone (never executable)."""
        from approvals import registry

        try:
            return registry.get_action(self.action)
        except LookupError:
            return registry.placeholder_action(self.action)

    @property
    def approvals_count(self) -> int:
        """Distinct reviewers who approved the current payload (annotated by the selectors)."""
        annotated = getattr(self, "_approvals_count", None)
        if annotated is not None:
            return annotated
        return self.decisions.standing().filter(verdict__in=Decision.APPROVING, payload_hash=self.payload_hash).count()

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.PENDING and self.due_at is not None and self.due_at < timezone.now()

    @property
    def amount(self) -> Decimal | None:
        raw = (self.context or {}).get("amount")
        return Decimal(str(raw)) if raw not in (None, "") else None


class DecisionQuerySet(models.QuerySet["Decision"]):
    def standing(self) -> DecisionQuerySet:
        """Decisions that count: not undone by their reviewer (or a manager) in the undo window."""
        return self.filter(undone_at__isnull=True)


class Decision(models.Model):
    """One reviewer's verdict on one version of the payload, with what they changed.

    An approval undone in the undo window is kept, marked with ``undone_at``/``undone_by``; it no
    longer counts, and its reviewer may decide the same version again.
    """

    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approve"
        APPROVE_WITH_EDITS = "approve_with_edits", "Approve with edits"
        REJECT = "reject", "Reject"
        REQUEST_CHANGES = "request_changes", "Request changes"

    class Reason(models.TextChoices):
        WRONG_FACTS = "wrong_facts", "Wrong facts"
        TONE = "tone", "Tone"
        POLICY = "policy", "Against policy"
        NOT_NEEDED = "not_needed", "Not needed"
        OTHER = "other", "Other"

    class SecondReview(models.TextChoices):
        REWRITE = "rewrite", "Rewritten by the reviewer"
        MATERIAL = "material", "Material change"

    APPROVING = (Verdict.APPROVE, Verdict.APPROVE_WITH_EDITS)

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approval_decisions",
        help_text="Empty for autopilot.",
    )
    is_autopilot = models.BooleanField(default=False)
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    payload_before = models.JSONField(default=dict)
    payload_after = models.JSONField(default=dict)
    payload_hash = models.CharField(max_length=64, help_text="sha256 of payload_after.")
    version = models.PositiveIntegerField(
        default=1, help_text="The payload version decided on (for an edit: the version the edit created)."
    )
    diff = models.JSONField(default=dict, blank=True)
    edit_ratio = models.FloatField(default=0.0, validators=[MinValueValidator(0), MaxValueValidator(1)])
    material = models.JSONField(
        default=list,
        blank=True,
        help_text="Material fields the reviewer changed: [{field, label, before, after, display}].",
    )
    second_review = models.CharField(
        max_length=20,
        choices=SecondReview.choices,
        blank=True,
        help_text="Why this edit needs one more approval by a different reviewer.",
    )
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    comment = models.TextField(blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="For autopilot: the numbers that justified it.")
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True, help_text="When this approval was undone (undo window).")
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A reviewer decides once per version of the payload: an edit by a later
            # reviewer of an M-of-N request lets earlier approvers approve the new text.
            # An undone approval does not count, so its reviewer may decide that version again.
            models.UniqueConstraint(
                fields=["request", "reviewer", "payload_hash"],
                condition=Q(reviewer__isnull=False, undone_at__isnull=True),
                name="approvals_one_decision_per_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(verdict="reject") | ~Q(reason=""), name="approvals_reject_needs_reason"
            ),
            models.CheckConstraint(
                condition=Q(is_autopilot=True, reviewer__isnull=True) | Q(is_autopilot=False, reviewer__isnull=False),
                name="approvals_decision_has_one_author",
            ),
            models.CheckConstraint(
                condition=Q(edit_ratio__gte=0) & Q(edit_ratio__lte=1), name="approvals_edit_ratio_0_1"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="approvals_decision_created")]

    def __str__(self) -> str:
        who = "autopilot" if self.is_autopilot else str(self.reviewer)
        return f"{who}: {self.get_verdict_display()} #{self.request_id}"


class PayloadVersion(models.Model):
    """One version of a request's payload: the proposal, a reviewer's edit, a redraft or a revision."""

    class Source(models.TextChoices):
        PROPOSAL = "proposal", "Proposal"
        EDIT = "edit", "Reviewer's edit"
        REDRAFT = "redraft", "AI redraft"
        REVISION = "revision", "Revised by the requester"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    payload = models.JSONField()
    payload_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=Source.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ai_run = models.ForeignKey("ai.AiRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.ForeignKey(
        Decision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The decision that led to this version (an edit or a change request).",
    )
    note = models.TextField(blank=True, help_text="For redrafts and revisions: the reviewer's request.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "number"]
        constraints = [models.UniqueConstraint(fields=["request", "number"], name="approvals_payload_version_unique")]

    def __str__(self) -> str:
        return f"#{self.request_id} v{self.number} ({self.get_source_display()})"


class AuditEvent(models.Model):
    """Append-only, hash-chained and keyed record of everything that happened to approvals.

    Every column but ``id``, ``hash`` and ``mac`` is in the hashed material (``approvals.audit``):
    ``hash = sha256(canonical JSON of the row, prev_hash included)`` chains the rows, and
    ``mac = HMAC-SHA256(HITL_CRM_AUDIT_KEY, material + hash)`` means a rewritten chain cannot be
    re-sealed without the key. Because ``actor``, ``ai_run`` and ``target_type`` are hashed,
    the rows they point at are protected from deletion (deactivate a user instead).
    ``AuditAnchor`` rows pin the head so truncation is detected; ``manage.py verify_audit``
    checks all of it.

    ``scheme`` 1 marks rows written before the full material existed: their ``hash`` covers the
    legacy subset and is kept as it was; their ``mac`` (backfilled by migration 0002) covers
    every column.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        SYSTEM = "system", "System"
        AI = "ai", "AI run"
        AUTOPILOT = "autopilot", "Autopilot"

    SCHEME_LEGACY = 1
    SCHEME_FULL = 2

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    actor_label = models.CharField(max_length=200, editable=False)
    ai_run = models.ForeignKey(
        "ai.AiRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    verb = models.CharField(max_length=40, editable=False)
    request = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events", editable=False
    )
    # What a non-request event is about (a policy, a user, a group); the repr is a snapshot.
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    target_repr = models.CharField(max_length=200, blank=True, editable=False)
    data = models.JSONField(default=dict, blank=True, editable=False)
    scheme = models.PositiveSmallIntegerField(default=SCHEME_FULL, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)
    mac = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["request", "id"], name="approvals_audit_request"),
            models.Index(fields=["verb", "created_at"], name="approvals_audit_verb"),
            models.Index(fields=["target_type", "target_id", "id"], name="approvals_audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.verb}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class AuditAnchor(models.Model):
    """A keyed snapshot of the audit chain's head, written periodically (append-only).

    The same values go to the ``hitl_crm.audit.anchor`` log and, when configured, to admins by
    email, so deleting the newest events (and anchors) is caught against a copy outside the
    database. ``mac`` covers every other column and the previous anchor's ``mac``.
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    head_id = models.PositiveBigIntegerField(editable=False, help_text="Id of the newest event (0: empty chain).")
    head_hash = models.CharField(max_length=64, editable=False)
    event_count = models.PositiveBigIntegerField(editable=False, help_text="Events with an id up to head_id.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    prev_mac = models.CharField(max_length=64, editable=False)
    mac = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"anchor #{self.sequence}: event {self.head_id} ({self.created_at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit anchors are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit anchors are append-only.")


class ApprovalRequestUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK object permission (fast joins, real FK) — see guardian's performance guide."""

    content_object = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="user_permissions")

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "reviewer (user)"
        verbose_name_plural = "reviewers (users)"


class ApprovalRequestGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="group_permissions")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "reviewer (group)"
        verbose_name_plural = "reviewers (groups)"
        indexes = [models.Index(fields=["content_object", "group"], name="approvals_gperm_object_group")]


class ReviewerNotice(models.Model):
    """What a reviewer's digest email has told them about one request (durable, one row per pair).

    The row is written in the transaction that prepares the digest's delivery, so a request is
    announced as new to a reviewer once; ``overdue_due_at`` is the due time it was last reported
    overdue for (escalation moves the due time, and the next miss is reported again).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="notices")
    digest_key = models.CharField(max_length=200, help_text="The delivery key of the digest that last named it.")
    announced_at = models.DateTimeField(default=timezone.now)
    overdue_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "request"], name="approvals_notice_unique")]

    def __str__(self) -> str:
        return f"request #{self.request_id} → user #{self.user_id} ({self.digest_key})"

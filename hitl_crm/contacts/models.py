from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Lower
from django.urls import reverse
from django.utils import timezone

from hitl_crm.tags import TagsField


class Account(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        PREMIUM = "premium", "Premium"
        VIP = "vip", "VIP"

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, help_text="Company web domain, e.g. acme.com")
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. US")
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.STANDARD)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    tags = TagsField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["tier"])]
        constraints = [
            models.UniqueConstraint(
                Lower("domain"), condition=~models.Q(domain=""), name="contacts_account_unique_domain"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_vip(self) -> bool:
        return self.tier == self.Tier.VIP

    def get_absolute_url(self) -> str:
        return reverse("web:account_detail", args=[self.pk])


SEARCH_SOURCES = frozenset({"email", "first_name", "last_name", "title", "account", "account_id"})


def search_text_of(*, email: str, first_name: str, last_name: str, title: str, account_name: str) -> str:
    """The lower-cased text a contact is found by; the same string the SQL in the contacts migrations and
    ``contact_search_expression`` builds (fields joined by single spaces, the account's name last)."""
    return f"{email} {first_name} {last_name} {title} {account_name}".lower()


class Contact(models.Model):
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="Stored in E.164 form, e.g. +14155550123")
    title = models.CharField(max_length=120, blank=True)
    email_consent = models.BooleanField(default=False, help_text="Agreed to receive marketing email.")
    consent_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_contacts"
    )
    tags = TagsField()
    attributes = models.JSONField(default=dict, blank=True, help_text="Business-specific fields.")
    last_activity_at = models.DateTimeField(null=True, blank=True)
    search_text = models.TextField(
        blank=True,
        default="",
        editable=False,
        help_text="Maintained: lower-cased email, names, title and account name (trigram-indexed on PostgreSQL).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"]),
            models.Index(Lower("email"), name="contacts_contact_email_lower"),
            models.Index(fields=["-last_activity_at"]),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="contacts_contact_unique_email")
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Contact #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keeps ``search_text`` current on every save that may change what it is built from (a save of
        other fields only, e.g. ``update_fields=["last_activity_at"]``, leaves it alone). Writes that bypass
        ``save`` (``bulk_create``, ``update``) refresh it with ``contact_search_expression``."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or SEARCH_SOURCES & set(update_fields):
            account = self.account if self.account_id else None  # cached when the caller set or joined it
            self.search_text = search_text_of(
                email=self.email,
                first_name=self.first_name,
                last_name=self.last_name,
                title=self.title,
                account_name=account.name if account is not None else "",
            )
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def can_receive_marketing(self) -> bool:
        return bool(self.email) and self.email_consent and self.unsubscribed_at is None

    def get_absolute_url(self) -> str:
        return reverse("web:contact_detail", args=[self.pk])


def search_text_expression(*fields: str) -> Lower:
    """SQL for a maintained search column: ``fields`` of the row and its linked account's name, joined
    by single spaces and lower-cased (what ``search_text_of`` and ``lead_search_text_of`` build in
    Python). For ``update()`` after writes that bypass ``save``, on any model with an ``account`` link."""
    account_name = Subquery(Account.objects.filter(pk=OuterRef("account_id")).values("name")[:1])
    parts: list[Any] = [*fields, Coalesce(account_name, Value(""))]
    spaced: list[Any] = []
    for part in parts:
        spaced += [part, Value(" ")]
    return Lower(Concat(*spaced[:-1], output_field=CharField()))


def contact_search_expression() -> Lower:
    """SQL for ``Contact.search_text``, for ``Contact.objects.filter(…).update(search_text=…)``."""
    return search_text_expression("email", "first_name", "last_name", "title")


class Activity(models.Model):
    """One entry of a contact's timeline. Written only through ``activity_record``."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        EMAIL_IN = "email_in", "Email received"
        EMAIL_OUT = "email_out", "Email sent"
        FORM = "form", "Form submitted"
        SITE_VISIT = "site_visit", "Site visit"
        PURCHASE = "purchase", "Purchase"
        CASE = "case", "Support case"
        AI = "ai", "AI suggestion"
        APPROVAL = "approval", "Approval"
        SYSTEM = "system", "System"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=40, default="web", help_text="Where it came from: web, api, import, …")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="contacts_activity_timeline"),
            models.Index(fields=["kind", "-occurred_at"], name="contacts_activity_kind"),
            models.Index(fields=["-occurred_at"], name="contacts_activity_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"

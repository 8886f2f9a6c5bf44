"""Forms for the leads pages. They shape input; the rules live in the services."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import QuerySet

from hitl_crm.coercion import parse_money
from hitl_crm.money import CURRENCY_CHOICES
from hitl_crm.tags import TagsFormField, tags_text
from leads import csv_parsing
from leads.features import Feature, available_features
from leads.models import Lead, LeadImport, ScoringRule

STATUS_CHOICES = [("open", "Open (new, working, qualified)"), ("all", "All"), *Lead.Status.choices]


class ProspectFilterForm(forms.Form):
    scope = forms.ChoiceField(required=False, choices=[("team", "Team"), ("mine", "Mine")])
    tier = forms.ChoiceField(required=False, choices=[("", "Any tier"), *[(t, f"Tier {t}") for t in Lead.Tier.values]])
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    source = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=100)

    def __init__(self, *args: Any, sources: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Declared above; ``fields`` holds base Fields.
        cast(forms.ChoiceField, self.fields["source"]).choices = [("", "Any source"), *[(s, s) for s in sources]]

    def filters(self) -> dict[str, str]:
        """The valid filters (an unknown value in one field does not drop the others)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "scope": data.get("scope") or "team",
            "tier": data.get("tier") or "",
            "status": data.get("status") or "open",
            "source": data.get("source") or "",
            "search": (data.get("q") or "").strip(),
        }


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class LeadEditForm(forms.Form):
    """The lead page's inline edit: status, owner, value (amount and currency) and tags.

    The value is typed as people write it ("12.500,00", "€12.500,00", "1,234.50"); a currency
    written in it wins over the currency select. The rules (who may, limits, audit) are in
    ``leads.services.lead_update``; :meth:`data_for_service` gives it what to change.
    """

    #: Which form field shows a service error about a lead field.
    SERVICE_FIELDS = {"estimated_value": "value", "value_currency": "value_currency", "status": "status"}

    status = forms.ChoiceField(choices=Lead.Status.choices)
    owner = OwnerChoiceField(queryset=get_user_model().objects.none(), required=False, empty_label="Nobody")
    value = forms.CharField(
        required=False,
        max_length=40,
        label="Value",
        help_text="e.g. 12,500.00 or 12.500,00; empty for no value.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    value_currency = forms.ChoiceField(choices=CURRENCY_CHOICES, label="Currency")
    tags = TagsFormField(label="Tags")

    def __init__(self, *args: Any, lead: Lead, owners: QuerySet[User], default_currency: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "status": lead.status,
                "owner": lead.owner_id,
                "value": "" if lead.estimated_value is None else f"{lead.estimated_value:,.2f}",
                "value_currency": lead.value_currency or default_currency,
                "tags": tags_text(lead.tags),
            },
        )
        super().__init__(*args, **kwargs)
        self.lead = lead
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = owners

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = (data.get("value") or "").strip()
        currency = data.get("value_currency") or ""
        data["estimated_value"] = None
        if raw and "value" not in self.errors:
            try:
                amount, currency = parse_money(raw, default_currency=currency)
            except ValueError as exc:
                self.add_error("value", str(exc))
                return data
            data["estimated_value"], data["value_currency"] = amount, currency
        return data

    def data_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "status": data["status"],
            "owner": data.get("owner"),
            "estimated_value": data.get("estimated_value"),
            "value_currency": data.get("value_currency") if data.get("estimated_value") is not None else "",
            "tags": data.get("tags") or [],
        }


class OverrideForm(forms.Form):
    score = forms.IntegerField(min_value=0, max_value=100, label="Score (0–100)")
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why? The reason is kept with the score and teaches the model.",
    )


class FollowupWriteForm(forms.Form):
    subject = forms.CharField(max_length=200)
    body = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 8}), strip=False)

    def clean_subject(self) -> str:
        value = self.cleaned_data["subject"]
        if "\n" in value or "\r" in value:
            raise forms.ValidationError("Keep the subject on one line.")
        return value

    def clean_body(self) -> str:
        value = self.cleaned_data["body"].replace("\r\n", "\n")
        if not value.strip():
            raise forms.ValidationError("Write the message.")
        return value


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 or Windows-1252; comma, semicolon or tab separated.")


def target_choices(header: str) -> list[tuple[str, str]]:
    choices = [(csv_parsing.IGNORE, "— ignore —")]
    choices += [(f"field:{t.name}", t.label) for t in csv_parsing.FIELDS.values()]
    if header:
        choices.append((f"attribute:{header}", f"Custom attribute “{header}”"))
    return choices


class MappingForm(forms.Form):
    """One select per column (``col_<index>``), plus what to do with leads that already exist."""

    update_existing = forms.BooleanField(required=False, label="Update leads that already exist (same email or id)")
    default_owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Owner of new leads without one",
        empty_label="Nobody",
    )

    def __init__(self, *args: Any, lead_import: LeadImport, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lead_import = lead_import
        cast(forms.ModelChoiceField, self.fields["default_owner"]).queryset = (
            get_user_model().objects.filter(is_active=True).order_by("username")
        )
        for index, header in enumerate(lead_import.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=target_choices(header),
                required=False,
                label=header or f"Column {index + 1}",
                initial=lead_import.mapping.get(str(index), csv_parsing.IGNORE),
            )

    def mapping(self) -> dict[str, str]:
        source = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {
            str(i): (source.get(f"col_{i}") or self.lead_import.mapping.get(str(i), csv_parsing.IGNORE))
            for i in range(len(self.lead_import.headers))
        }


class RuleForm(forms.ModelForm):
    """A scoring rule. ``value`` accepts a number, text, true/false, or a JSON list for "is one of"."""

    value = forms.CharField(required=False, max_length=500, help_text='e.g. 200, Referral, true, or ["A", "B"]')
    event_match = forms.CharField(
        required=False, max_length=200, label="Event data contains", help_text="Engagement only, e.g. page=pricing"
    )

    class Meta:
        model = ScoringRule
        fields = ["name", "target", "path", "operator", "value", "aggregate", "within_days", "event_match", "points"]

    def clean_value(self) -> Any:
        raw = (self.cleaned_data.get("value") or "").strip()
        if raw == "":
            return None
        try:
            return json.loads(raw)
        except ValueError:
            if self.data.get("operator") == ScoringRule.Operator.IN:
                return [part.strip() for part in raw.split(",") if part.strip()]
            return raw

    def clean_event_match(self) -> dict[str, str]:
        raw = (self.cleaned_data.get("event_match") or "").strip()
        if not raw:
            return {}
        out = {}
        for part in raw.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise forms.ValidationError("Write key=value pairs separated by commas, e.g. page=pricing.")
            out[key.strip()] = value.strip()
        return out

    def data_for_service(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields} | {
            "aggregate": self.cleaned_data.get("aggregate") or ScoringRule.Aggregate.COUNT
        }


class TrainForm(forms.Form):
    features = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Fields the model learns from"
    )

    def __init__(self, *args: Any, current: list[Feature] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = {f.name: f for f in available_features()}
        for feature in current or []:
            self.catalogue.setdefault(feature.name, feature)
        cast(forms.MultipleChoiceField, self.fields["features"]).choices = [
            (f.name, f.label if f.source != "attribute" else f"{f.label} (custom)") for f in self.catalogue.values()
        ]
        self.fields["features"].initial = [f.name for f in current or []]

    def chosen(self) -> list[Feature] | None:
        names = self.cleaned_data.get("features") or []
        return [self.catalogue[n] for n in names] or None

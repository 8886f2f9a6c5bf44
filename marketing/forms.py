"""Forms for the marketing UI. Rules live in the services; these only shape the input."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from marketing.models import STYLE_CHOICES, Campaign, Segment
from marketing.segments import FIELDS


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=150)
    goal = forms.CharField(max_length=300, required=False, help_text="What success looks like.")
    brief = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the email is about. The AI writes its variants from this.",
    )
    product = forms.CharField(max_length=150, required=False)
    audience_note = forms.CharField(max_length=150, required=False, label="Audience (in words)")
    copy_kind = forms.ChoiceField(choices=Campaign.CopyKind.choices, label="AI writes")
    default_body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="Email body",
        help_text="Paired with each AI subject line; you can edit every variant later.",
    )


class VariantForm(forms.Form):
    subject = forms.CharField(max_length=150)
    preheader = forms.CharField(max_length=150, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), strip=False)
    style = forms.ChoiceField(choices=STYLE_CHOICES, initial="own")


class GenerateForm(forms.Form):
    n = forms.IntegerField(min_value=1, max_value=12, initial=5, label="How many")


class AudienceForm(forms.Form):
    """Audience and A/B settings; rates are typed as percentages."""

    segment = forms.ModelChoiceField(queryset=Segment.objects.none(), required=False, empty_label="Choose a segment…")
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at (empty: as soon as it is approved)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    test_metric = forms.ChoiceField(choices=Campaign.Metric.choices, label="Decide the test by")
    baseline_pct = forms.FloatField(min_value=0.01, max_value=95, label="Usual rate (%)")
    mde_pct = forms.FloatField(min_value=0.01, max_value=50, label="Smallest lift worth detecting (points)")
    power_pct = forms.FloatField(min_value=50, max_value=99, label="Power (%)")

    def __init__(self, *args: Any, segments: QuerySet[Segment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Segment]", self.fields["segment"]).queryset = segments

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict[str, Any]:
        return {
            "segment": campaign.segment_id,
            "scheduled_at": campaign.scheduled_at,
            "test_metric": campaign.test_metric,
            "baseline_pct": round(campaign.baseline_rate * 100, 3),
            "mde_pct": round(campaign.min_detectable_effect * 100, 3),
            "power_pct": round(campaign.power * 100, 1),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        baseline, mde = data.get("baseline_pct"), data.get("mde_pct")
        if baseline is not None and mde is not None and baseline + mde >= 100:
            self.add_error("mde_pct", "The usual rate plus the lift must stay below 100%.")
        return data

    def campaign_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "segment": data["segment"],
            "scheduled_at": data["scheduled_at"],
            "test_metric": data["test_metric"],
            "baseline_rate": round(data["baseline_pct"] / 100, 6),
            "min_detectable_effect": round(data["mde_pct"] / 100, 6),
            "power": round(data["power_pct"] / 100, 4),
        }


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=300, required=False)


class WinnerForm(forms.Form):
    variant = forms.TypedChoiceField(coerce=int, label="Winner")

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["variant"]).choices = choices


def field_choices() -> list[tuple[str, str]]:
    return [(key, spec.label) for key, spec in FIELDS.items()]


def rules_from_post(data: QueryDict, *, keep_empty: bool = False, drop: int | None = None) -> list[dict[str, Any]]:
    """The rule rows of the segment builder as raw rule dicts (validated later by the service).

    ``keep_empty`` keeps rows whose field is not chosen yet (while editing); ``drop`` removes a row.
    """
    fields = data.getlist("rule-field")
    keys = data.getlist("rule-key")
    ops = data.getlist("rule-op")
    values = data.getlist("rule-value")
    days = data.getlist("rule-days")
    rules = []
    for index, field in enumerate(fields):
        field = field.strip()
        if index == drop or not field and not keep_empty:
            continue
        key = keys[index].strip() if index < len(keys) else ""
        rule: dict[str, Any] = {
            "field": f"attributes.{key}" if field == "attributes" and key else field,
            "op": ops[index] if index < len(ops) else "",
            "value": values[index] if index < len(values) else "",
        }
        if field.startswith("activity."):
            rule["days"] = days[index] if index < len(days) and days[index] else 90
        rules.append(rule)
    return rules


def rule_rows(rules: list[dict[str, Any]], *, extra: int = 0) -> list[dict[str, Any]]:
    """Rules shaped for the builder's rows (field select, attribute key, ops for that field)."""
    from marketing.segments import OP_LABELS, field_spec

    rows = []
    for rule in rules:
        field = rule.get("field", "")
        spec = field_spec(field)
        value = rule.get("value", "")
        rows.append(
            {
                "field": "attributes" if field.startswith("attributes") else field,
                "key": field.split(".", 1)[1] if field.startswith("attributes.") else "",
                "op": rule.get("op", ""),
                "ops": [(op, OP_LABELS[op]) for op in (spec.ops if spec else OP_LABELS)],
                "value": ", ".join(map(str, value)) if isinstance(value, list) else value,
                "days": rule.get("days", 90),
                "is_activity": field.startswith("activity."),
                "is_attribute": field.startswith("attributes"),
            }
        )
    for _ in range(extra):
        rows.append(
            {
                "field": "",
                "key": "",
                "op": "",
                "ops": list(OP_LABELS.items()),
                "value": "",
                "days": 90,
                "is_activity": False,
                "is_attribute": False,
            }
        )
    return rows

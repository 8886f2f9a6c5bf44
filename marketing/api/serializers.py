from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from marketing.models import Campaign, Conversion, Segment, Variant


class CampaignSerializer(serializers.ModelSerializer):
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    awaiting_decision = serializers.BooleanField(read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "goal",
            "brief",
            "product",
            "audience_note",
            "copy_kind",
            "default_body",
            "status",
            "segment",
            "scheduled_at",
            "owner",
            "test_metric",
            "baseline_rate",
            "min_detectable_effect",
            "power",
            "split",
            "winner_variant",
            "awaiting_decision",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    brief = serializers.CharField()
    goal = serializers.CharField(max_length=300, required=False, allow_blank=True)
    product = serializers.CharField(max_length=150, required=False, allow_blank=True)
    audience_note = serializers.CharField(max_length=150, required=False, allow_blank=True)
    copy_kind = serializers.ChoiceField(choices=Campaign.CopyKind.choices, required=False)
    default_body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)
    test_metric = serializers.ChoiceField(choices=Campaign.Metric.choices, required=False)
    baseline_rate = serializers.FloatField(min_value=0.0001, max_value=0.95, required=False)
    min_detectable_effect = serializers.FloatField(min_value=0.0001, max_value=0.5, required=False)
    power = serializers.FloatField(min_value=0.5, max_value=0.99, required=False)


class GenerateSerializer(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=12, default=5)


class WinnerSerializer(serializers.Serializer):
    variant = serializers.IntegerField(min_value=1)


class SegmentSerializer(serializers.ModelSerializer):
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    count = serializers.SerializerMethodField(help_text="Contacts matching the rules.")
    reachable = serializers.SerializerMethodField(help_text="Of those, how many may receive marketing email.")

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules", "count", "reachable", "owner", "created_at", "updated_at"]
        read_only_fields = fields

    def _counts(self, segment: Segment) -> dict[str, int]:
        return self.context.get("counts", {}).get(segment.pk, {"matching": 0, "reachable": 0})

    def get_count(self, segment: Segment) -> int:
        return self._counts(segment)["matching"]

    def get_reachable(self, segment: Segment) -> int:
        return self._counts(segment)["reachable"]


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    rules = serializers.JSONField(help_text='[{"field": "score.churn", "op": "gte", "value": 0.6}, …]')


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = [
            "id",
            "campaign",
            "subject",
            "preheader",
            "body",
            "style",
            "origin",
            "status",
            "ai_score",
            "flags",
            "ai_run",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VariantInputSerializer(serializers.Serializer):
    campaign = serializers.PrimaryKeyRelatedField(queryset=Campaign.objects.all())
    subject = serializers.CharField(max_length=150)
    preheader = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    body = serializers.CharField(trim_whitespace=False)
    # stub gap: the stubs see Field.style here (DRF moves declared fields off the class)
    style = serializers.CharField(max_length=12, required=False, default="own")  # type: ignore[assignment]


class VariantUpdateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=150, required=False)
    preheader = serializers.CharField(max_length=150, required=False, allow_blank=True)
    body = serializers.CharField(required=False, trim_whitespace=False)
    # stub gap: the stubs see Field.style here (DRF moves declared fields off the class)
    style = serializers.CharField(max_length=12, required=False)  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=Variant.Status.choices, required=False)


class ConversionInputSerializer(serializers.Serializer):
    """Either the ``token`` from the click-through (``hc_ref``) or a campaign and the customer's email."""

    token = serializers.CharField(required=False, allow_blank=True, max_length=500)
    campaign = serializers.IntegerField(required=False, min_value=1)
    email = serializers.EmailField(required=False)
    occurred_at = serializers.DateTimeField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=0)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("token") and not (attrs.get("campaign") and attrs.get("email")):
            raise serializers.ValidationError("Send the token, or the campaign and the customer's email.")
        return attrs


class ConversionSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="send.campaign_id", read_only=True)
    contact = serializers.IntegerField(source="send.contact_id", read_only=True)

    class Meta:
        model = Conversion
        fields = ["id", "send", "campaign", "contact", "occurred_at", "value", "external_id", "source", "created_at"]
        read_only_fields = fields


class VariantResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="variant.pk")
    # stub gap: the stubs see Field.label here (DRF moves declared fields off the class)
    label = serializers.CharField()  # type: ignore[assignment]
    subject = serializers.CharField(source="variant.subject")
    # stub gap: the stubs see Field.style here (DRF moves declared fields off the class)
    style = serializers.CharField(source="variant.style")  # type: ignore[assignment]
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    rate = serializers.FloatField(help_text="The test metric's rate in the test cell.")
    ci_low = serializers.FloatField(source="low", help_text="95% Wilson interval, lower end.")
    ci_high = serializers.FloatField(source="high", help_text="95% Wilson interval, upper end.")


class ResultsSerializer(serializers.Serializer):
    metric = serializers.CharField()
    sentence = serializers.CharField()
    significant = serializers.BooleanField()
    p_value = serializers.FloatField(source="comparison.p")
    z = serializers.FloatField(source="comparison.z")
    suggested_variant = serializers.SerializerMethodField(help_text="The leader's variant id (a person confirms).")
    variants = VariantResultSerializer(many=True)
    totals = serializers.DictField(child=serializers.IntegerField())
    remainder = serializers.IntegerField(help_text="Recipients waiting for the winner.")

    def get_suggested_variant(self, results: dict[str, Any]) -> int | None:
        return results["suggested"].pk if results.get("suggested") is not None else None

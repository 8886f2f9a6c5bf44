from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from rest_framework import serializers

from leads.models import Lead, LeadEvent, LeadImport, LeadImportError, LeadScoreHistory, ScoringModel
from leads.services import LEAD_FIELD_NAMES


class OverrideInputSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=100)
    reason = serializers.CharField(max_length=2000, help_text="Why: kept with the score and used to train the model.")


class LeadSerializer(serializers.ModelSerializer):
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    factors = serializers.JSONField(
        source="score_factors",
        read_only=True,
        help_text="Top factors: label, value (log-odds for the model, points for rules), kind.",
    )
    override = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            *LEAD_FIELD_NAMES,
            "score",
            "tier",
            "computed_score",
            "model_probability",
            "rules_points",
            "factors",
            "model_version",
            "scored_at",
            "override",
            "last_engaged_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]

    def get_override(self, lead: Lead) -> dict[str, Any] | None:
        if lead.override_score is None:
            return None
        return {
            "score": lead.override_score,
            "reason": lead.override_reason,
            "by": lead.override_by.username if lead.override_by else None,
            "at": lead.override_at,
        }


class LeadInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    employees = serializers.IntegerField(min_value=0, max_value=100_000_000, required=False, allow_null=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=60, required=False, allow_blank=True)
    # The serializer metaclass moves declared fields out of the class, so this API field does not
    # replace ``Field.source`` at run time; the stubs see a class attribute of another type.
    source = serializers.CharField(max_length=100, required=False, allow_blank=True)  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.filter(is_active=True), required=False, allow_null=True
    )
    estimated_value = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    value_currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, help_text="ISO 4217 code of estimated_value, e.g. EUR."
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=20)
    do_not_email = serializers.BooleanField(required=False)
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not any(
            attrs.get(k) for k in ("email", "first_name", "last_name", "company", "external_id")
        ):
            raise serializers.ValidationError({"email": "Give at least an email, a name, a company or an id."})
        return attrs


class ScoreHistorySerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = LeadScoreHistory
        fields = ["id", "score", "tier", "model_version", "source", "reason", "actor", "created_at"]


class LeadEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadEvent
        fields = ["id", "lead", "kind", "occurred_at", "amount", "data", "source", "external_id", "created_at"]


class LeadEventInputSerializer(serializers.Serializer):
    """One engagement event. Name the lead by ``lead`` (id), ``lead_email`` or ``lead_external_id``."""

    lead = serializers.IntegerField(required=False, min_value=1)
    lead_email = serializers.EmailField(required=False)
    lead_external_id = serializers.CharField(required=False, max_length=100)
    kind = serializers.ChoiceField(choices=[(k, LeadEvent.Kind(k).label) for k in LeadEvent.ENGAGEMENT])
    occurred_at = serializers.DateTimeField(required=False)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True)
    # The serializer metaclass moves declared fields out of the class, so this API field does not
    # replace ``Serializer.data`` at run time; the stubs see a class attribute of another type.
    data = serializers.DictField(required=False)  # type: ignore[assignment]
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Your id for the event: sending it again does not count twice.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("lead", "lead_email", "lead_external_id") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"lead": "Name the lead by exactly one of lead, lead_email or lead_external_id."}
            )
        return attrs


class LeadImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = LeadImport
        fields = [
            "id",
            "file_name",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "update_existing",
            "status",
            "percent",
            "total_rows",
            "processed_rows",
            "created_rows",
            "updated_rows",
            "skipped_rows",
            "failed_rows",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class LeadImportInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    mapping = serializers.JSONField(
        required=False,
        help_text='{"0": "field:email", "3": "attribute:Budget", …} by column index; omitted: the suggested mapping.',
    )
    update_existing = serializers.BooleanField(required=False, default=False)


class LeadImportErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadImportError
        fields = ["line", "column", "value", "message", "duplicate", "row"]


class ScoringModelSerializer(serializers.ModelSerializer):
    features = serializers.SerializerMethodField()

    class Meta:
        model = ScoringModel
        fields = ["id", "version", "active", "trained_at", "metrics", "features", "note"]

    def get_features(self, model: ScoringModel) -> list[dict[str, str]]:
        return model.params.get("features", [])

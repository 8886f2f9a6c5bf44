"""API shapes: output serializers for reading, input serializers for the services' arguments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import serializers

from hitl_crm.tags import MAX_TAG_LENGTH, MAX_TAGS, normalize_tags
from service.inbound import InboundMail, MalformedMail, build
from service.models import Case, KnowledgeArticle, Message, RefundRequest


class _AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tier = serializers.CharField()


class _ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    email = serializers.EmailField()
    account = _AccountSerializer(allow_null=True)


class CaseSerializer(serializers.ModelSerializer):
    contact = _ContactSerializer(read_only=True)
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "subject",
            "channel",
            "status",
            "priority",
            "contact",
            "owner",
            "tags",
            "intent",
            "intent_confidence",
            "intent_source",
            "sentiment",
            "sentiment_source",
            "risk",
            "flags",
            "summary",
            "key_points",
            "facts",
            "summary_version",
            "thread_version",
            "suggested_article_ids",
            "needs_human",
            "needs_human_reason",
            "waiting_since",
            "last_message_at",
            "first_response_at",
            "resolved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CaseUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Case.Priority.choices, required=False)
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Username of someone who may work cases (support agent, manager); null to unassign.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG_LENGTH + 10, allow_blank=True),
        required=False,
        max_length=MAX_TAGS * 2,
        help_text=f"Replaces the case's tags: at most {MAX_TAGS}, each 1–{MAX_TAG_LENGTH} letters, digits, "
        "spaces, - or _.",
    )

    def validate_tags(self, value: list[str]) -> list[str]:
        try:
            return normalize_tags(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class TriageCorrectionSerializer(serializers.Serializer):
    intent = serializers.CharField(max_length=80, required=False)
    sentiment = serializers.FloatField(min_value=-1, max_value=1, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"intent": "Give the corrected intent and/or sentiment."})
        return attrs


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "case",
            "direction",
            "sender",
            "sender_name",
            "to",
            "subject",
            "body",
            "occurred_at",
            "received_at",
            "sent_at",
            "message_id",
            "in_reply_to",
            "references",
            "processed_at",
        ]
        read_only_fields = fields


class InboundSerializer(serializers.Serializer):
    """One inbound email: ``from`` and ``body`` are required; ``message_id`` makes redelivery harmless."""

    to = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True)
    body = serializers.CharField(max_length=2_000_000, trim_whitespace=False)
    message_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    in_reply_to = serializers.CharField(max_length=255, required=False, allow_blank=True)
    references = serializers.ListField(child=serializers.CharField(max_length=255), required=False, max_length=50)
    received_at = serializers.DateTimeField(required=False)
    sent_at = serializers.DateTimeField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it is added here rather than declared above.
        fields["from"] = serializers.CharField(max_length=500, help_text='Sender, e.g. "Ada <ada@example.com>".')
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            mail = build(
                sender=attrs["from"],
                body=attrs["body"],
                subject=attrs.get("subject", ""),
                to=attrs.get("to", ""),
                message_id=attrs.get("message_id", ""),
                in_reply_to=attrs.get("in_reply_to", ""),
                references=" ".join(attrs.get("references") or []),
                sent_at=attrs.get("sent_at"),
                received_at=attrs.get("received_at"),
            )
        except MalformedMail as exc:
            raise serializers.ValidationError({exc.field: exc.reason}) from None
        return {"mail": mail}

    @property
    def mail(self) -> InboundMail:
        return self.validated_data["mail"]


class InboundResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["created", "threaded", "duplicate"])
    case = serializers.IntegerField(source="case.pk")
    message = serializers.IntegerField(source="message.pk")


class ArticleSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(source="tag_list", child=serializers.CharField(), read_only=True)

    class Meta:
        model = KnowledgeArticle
        fields = ["id", "title", "slug", "body", "tags", "published", "last_reviewed_at", "created_at", "updated_at"]
        read_only_fields = fields


class ArticleInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=50_000)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=20)
    published = serializers.BooleanField(required=False)
    last_reviewed_at = serializers.DateField(required=False, allow_null=True)

    def validate_tags(self, value: list[str]) -> str:
        return ", ".join(value)


class RefundSerializer(serializers.ModelSerializer):
    class Meta:
        model = RefundRequest
        fields = [
            "id",
            "case",
            "order_ref",
            "order_date",
            "amount",
            "currency",
            "reason",
            "recommendation",
            "rationale",
            "flags",
            "status",
            "amount_issued",
            "gateway_reference",
            "issued_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RefundInputSerializer(serializers.Serializer):
    case = serializers.PrimaryKeyRelatedField(queryset=Case.objects.none())
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("1000000")
    )
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", required=False, error_messages={"invalid": "A three-letter ISO code, e.g. USD."}
    )
    order_ref = serializers.CharField(max_length=64, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def __init__(self, *args: Any, cases: QuerySet[Case] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if cases is not None:
            cast(
                "serializers.PrimaryKeyRelatedField[Case]", self.fields["case"]
            ).queryset = cases  # only cases the caller may see

from typing import TYPE_CHECKING

from rest_framework import serializers

from hitl_crm.contacts.models import Account, Activity, Contact
from hitl_crm.tags import MAX_TAG_LENGTH, MAX_TAGS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AccountSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "domain",
            "industry",
            "employees",
            "country",
            "tier",
            "tags",
            "contact_count",
            "created_at",
            "updated_at",
        ]


class AccountInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    employees = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, allow_null=True)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Use a two-letter ISO country code, e.g. US."},
    )
    tier = serializers.ChoiceField(choices=Account.Tier.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG_LENGTH), required=False, max_length=MAX_TAGS
    )


class AccountSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "name", "tier"]


class ContactSerializer(serializers.ModelSerializer):
    account = AccountSummarySerializer(read_only=True, allow_null=True)
    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "full_name",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "account",
            "email_consent",
            "tags",
            "consent_at",
            "unsubscribed_at",
            "attributes",
            "last_activity_at",
            "created_at",
            "updated_at",
        ]


class ContactInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    email_consent = serializers.BooleanField(required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG_LENGTH), required=False, max_length=MAX_TAGS
    )
    attributes = serializers.DictField(required=False)

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not (attrs.get("email") or attrs.get("last_name") or attrs.get("first_name")):
            raise serializers.ValidationError({"email": "Give at least an email address or a name."})
        return attrs


class ActivitySerializer(serializers.ModelSerializer):
    actor: "serializers.StringRelatedField[User]" = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Activity
        fields = ["id", "kind", "occurred_at", "summary", "data", "source", "actor"]


class ActivityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    summary = serializers.CharField(max_length=300)
    occurred_at = serializers.DateTimeField(required=False)
    # The serializer metaclass moves declared fields out of the class, so this API field does not
    # replace ``Serializer.data`` at run time; the stubs see a class attribute of another type.
    data = serializers.DictField(required=False)  # type: ignore[assignment]

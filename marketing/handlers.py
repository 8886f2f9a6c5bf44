"""The approval action ``marketing.send_campaign``: what a reviewer approves before any send.

One request per phase. The ``test`` request carries the audience size, the shortlisted
variants (subject, preheader, body, style) and the split; the ``winner`` request, created
only when a person confirms a winner after the test, carries that one variant and the size of
the remainder. Nothing is editable in review: a reviewer who wants other words chooses
"Request changes" and the marketer edits the variants (the request closes, the campaign goes
back to the marketer, and a new request carries the new text).

The handler does not send mail. Inside the executor's transaction it freezes the approved
content on the campaign, releases exactly the planned rows of this phase (``pending →
queued``) and enqueues dispatch batches after commit; ``marketing.delivery`` sends them.
It is idempotent per ``request.execution_key``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rest_framework import serializers

from approvals.registry import Action

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest
    from marketing.models import Campaign

SEND_CAMPAIGN = "marketing.send_campaign"
PHASES = ("test", "winner")


class ApprovedVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    # stub gap: the stubs see Field.label here (DRF moves declared fields off the class)
    label = serializers.CharField(max_length=3)  # type: ignore[assignment]
    subject = serializers.CharField(max_length=150)
    preheader = serializers.CharField(max_length=150, allow_blank=True)
    body = serializers.CharField(max_length=20_000, trim_whitespace=False)
    # stub gap: the stubs see Field.style here (DRF moves declared fields off the class)
    style = serializers.CharField(max_length=12)  # type: ignore[assignment]

    def validate_subject(self, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise serializers.ValidationError("Keep the subject on one line.")
        return value


class SendCampaignSerializer(serializers.Serializer):
    """A campaign phase as a reviewer sees it; every variant must be shortlisted on this campaign."""

    campaign_id = serializers.IntegerField(min_value=1)
    phase = serializers.ChoiceField(choices=PHASES)
    audience_size = serializers.IntegerField(
        min_value=1, max_value=10_000_000, help_text="How many people this approval lets us email."
    )
    variants = ApprovedVariantSerializer(many=True)
    split = serializers.DictField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from marketing.conf import app_settings
        from marketing.models import Campaign, Variant

        campaign = self.context.get("subject")
        if not isinstance(campaign, Campaign) or campaign.pk != attrs["campaign_id"]:
            raise serializers.ValidationError({"campaign_id": "Must be the campaign under review."})
        variants = attrs["variants"]
        if not variants:
            raise serializers.ValidationError({"variants": "At least one variant."})
        if attrs["phase"] == "winner" and len(variants) != 1:
            raise serializers.ValidationError({"variants": "The winner phase sends exactly one variant."})
        if len(variants) > app_settings.MAX_VARIANTS:
            raise serializers.ValidationError({"variants": f"At most {app_settings.MAX_VARIANTS} variants."})
        ids = [v["id"] for v in variants]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError({"variants": "A variant is listed twice."})
        shortlisted = set(
            Variant.objects.filter(campaign=campaign, pk__in=ids, status=Variant.Status.APPROVED).values_list(
                "pk", flat=True
            )
        )
        if shortlisted != set(ids):
            raise serializers.ValidationError({"variants": "Every variant must be shortlisted on this campaign."})
        return attrs


def send_campaign(req: ApprovalRequest, payload: dict[str, Any]) -> dict[str, Any]:
    """Release the approved phase for sending (see the module docstring)."""
    from marketing.services import campaign_release_phase

    # The executor loaded the subject (the campaign) and set the execution key when the request was approved.
    return campaign_release_phase(
        campaign=cast("Campaign", req.subject),
        payload=payload,
        execution_key=cast(str, req.execution_key),
        request_id=req.pk,
    )


SEND_CAMPAIGN_ACTION = Action(
    key=SEND_CAMPAIGN,
    label="Send a campaign",
    serializer=SendCampaignSerializer,
    handler=send_campaign,
    editable_fields=(),
    template="marketing/approvals/send_campaign.html",
    description="Email a campaign's shortlisted variants to its audience (test cells, or the winner to the rest).",
)

"""Partner API for marketing: thin viewsets over the same services and selectors as the UI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from hitl_crm.errors import InvalidState
from hitl_crm.types import authenticated_user
from marketing import services, tokens
from marketing.api.serializers import (
    CampaignInputSerializer,
    CampaignSerializer,
    ConversionInputSerializer,
    ConversionSerializer,
    GenerateSerializer,
    ResultsSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
    VariantInputSerializer,
    VariantSerializer,
    VariantUpdateSerializer,
    WinnerSerializer,
)
from marketing.models import Campaign, Conversion, Segment, Send, Variant
from marketing.segments import normalise_rules
from marketing.selectors import campaign_list, campaign_results, segment_counts, segment_list, segments_with_counts


def _validated(serializer_class: type, request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This is not possible in the current state."
    default_code = "conflict"


def _service(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a write service: a refusal answers 403, a state conflict 409, each with the service's message."""
    try:
        return call(*args, **kwargs)
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except InvalidState as exc:
        raise Conflict(str(exc)) from exc


class CampaignViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Email campaigns. Sending always goes through the approval queue (``submit``)."""

    serializer_class = CampaignSerializer
    filterset_fields = ["status", "segment"]
    ordering_fields = ["created_at", "name"]
    search_fields = ["name", "goal"]

    def get_queryset(self) -> QuerySet[Campaign]:
        return campaign_list(user=authenticated_user(self.request)).order_by("-created_at", "-id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in {"create", "update", "partial_update"}:
            return CampaignInputSerializer
        return CampaignSerializer

    def _respond(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(CampaignInputSerializer, request)
        return self._respond(
            _service(services.campaign_create, actor=authenticated_user(request), **data), status.HTTP_201_CREATED
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        data = _validated(CampaignInputSerializer, request, partial=True)
        return self._respond(
            _service(services.campaign_update, campaign=campaign, actor=authenticated_user(request), data=data)
        )

    @extend_schema(request=GenerateSerializer, responses=VariantSerializer(many=True), filters=False)
    @action(detail=True, methods=["post"])
    def generate(self, request: Request, pk: str | None = None) -> Response:
        """Ask the AI for variants from the brief (they start as proposals for a marketer to curate)."""
        campaign = self.get_object()
        data = _validated(GenerateSerializer, request)
        created, result = _service(
            services.campaign_generate_variants, campaign=campaign, actor=authenticated_user(request), n=data["n"]
        )
        if not result.ok:
            return Response(
                {"detail": f"The AI could not write variants: {result.error}", "errors": []},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(VariantSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    def _transition(self, request: Request, service: Callable[..., Any]) -> Response:
        campaign = self.get_object()
        return self._respond(_service(service, campaign=campaign, actor=authenticated_user(request)))

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def lock(self, request: Request, pk: str | None = None) -> Response:
        """The shortlist is final (draft → variants_approved)."""
        return self._transition(request, services.campaign_lock_variants)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Plan the sends and ask for approval. Nothing is sent before a colleague approves."""
        campaign = self.get_object()
        req = _service(services.campaign_submit, campaign=campaign, actor=authenticated_user(request))
        data = CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data
        return Response({**data, "approval_request": req.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.campaign_cancel)

    @extend_schema(responses=ResultsSerializer)
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> Response:
        """Rates per variant with 95% Wilson intervals, the leader's p-value and a plain verdict."""
        return Response(ResultsSerializer(campaign_results(self.get_object())).data)

    @extend_schema(request=WinnerSerializer, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def winner(self, request: Request, pk: str | None = None) -> Response:
        """Confirm the winner; it goes to the remainder once that is approved too."""
        campaign = self.get_object()
        data = _validated(WinnerSerializer, request)
        variant = Variant.objects.filter(pk=data["variant"], campaign=campaign).first()
        if variant is None:
            raise Http404
        req = _service(
            services.campaign_confirm_winner, campaign=campaign, actor=authenticated_user(request), variant=variant
        )
        return Response(
            {**CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, "approval_request": req.pk},
            status=status.HTTP_202_ACCEPTED,
        )


class SegmentViewSet(viewsets.ModelViewSet):
    """Saved audiences. ``count`` is how many contacts match now; ``reachable`` how many may be emailed."""

    serializer_class = SegmentSerializer
    ordering_fields = ["name", "created_at"]
    search_fields = ["name"]

    def get_queryset(self) -> QuerySet[Segment]:
        return segment_list(user=authenticated_user(self.request)).order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        items = list(page if page is not None else queryset)
        counts = {
            s.pk: {"matching": m, "reachable": r}
            for s, m, r in segments_with_counts(user=authenticated_user(request), segments=items)
        }
        data = SegmentSerializer(items, many=True, context={"counts": counts}).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _one(self, segment: Segment, code: int = status.HTTP_200_OK) -> Response:
        counts = {segment.pk: segment_counts(rules=normalise_rules(segment.rules))}
        return Response(SegmentSerializer(segment, context={"counts": counts}).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._one(self.get_object())

    @extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(SegmentInputSerializer, request)
        return self._one(
            _service(services.segment_create, actor=authenticated_user(request), **data), status.HTTP_201_CREATED
        )

    @extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        data = _validated(SegmentInputSerializer, request, partial=kwargs.get("partial", False))
        return self._one(
            _service(services.segment_update, segment=segment, actor=authenticated_user(request), data=data)
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _service(services.segment_delete, segment=self.get_object(), actor=authenticated_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariantFilter(filters.FilterSet):
    class Meta:
        model = Variant
        fields = ["campaign", "status", "origin", "style"]


class VariantViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Copy variants of campaigns: AI proposals and people's own; shortlist with ``status``."""

    serializer_class = VariantSerializer
    filterset_class = VariantFilter

    def get_queryset(self) -> QuerySet[Variant]:
        return Variant.objects.filter(
            campaign__in=campaign_list(user=authenticated_user(self.request)).values("pk")
        ).order_by("id")

    @extend_schema(request=VariantInputSerializer, responses=VariantSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(VariantInputSerializer, request)
        campaign = campaign_list(user=authenticated_user(request)).filter(pk=data.pop("campaign").pk).first()
        if campaign is None:
            raise Http404
        variant = _service(services.variant_create, campaign=campaign, actor=authenticated_user(request), **data)
        return Response(VariantSerializer(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VariantUpdateSerializer, responses=VariantSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        variant = self.get_object()
        data = dict(_validated(VariantUpdateSerializer, request, partial=True))
        new_status = data.pop("status", None)
        if data:
            variant = _service(services.variant_update, variant=variant, actor=authenticated_user(request), data=data)
        if new_status:
            variant = _service(
                services.variant_set_status, variant=variant, actor=authenticated_user(request), status=new_status
            )
        return Response(VariantSerializer(Variant.objects.get(pk=variant.pk)).data)


class ConversionViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Conversions credited to campaign emails. Partners POST them (idempotent per ``external_id``).
    Listing shows the conversions of the campaigns the caller may see (``marketing.view_conversion``
    and ``marketing.view_campaign``)."""

    serializer_class = ConversionSerializer
    filterset_fields = ["send__campaign"]
    queryset = Conversion.objects.none()  # for ModelPermissions and the schema; get_queryset scopes it

    def get_queryset(self) -> QuerySet[Conversion]:
        user = authenticated_user(self.request)
        if not user.has_perm("marketing.view_conversion"):
            return Conversion.objects.none()
        campaigns = campaign_list(user=user).values("pk")
        return (
            Conversion.objects.filter(send__campaign__in=campaigns)
            .select_related("send")
            .order_by("-occurred_at", "-id")
        )

    @extend_schema(request=ConversionInputSerializer, responses=ConversionSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(ConversionInputSerializer, request)
        sends = Send.objects.select_related("campaign", "contact").filter(status=Send.Status.SENT)
        if data.get("token"):
            payload = tokens.read_token(tokens.CONVERSION, data["token"])
            send = sends.filter(pk=payload["s"]).first() if payload else None
        else:
            send = sends.filter(campaign_id=data["campaign"], contact__email__iexact=data["email"]).first()
        if send is None:
            return Response(
                {"detail": "No email of that campaign was sent to this customer.", "errors": []},
                status=status.HTTP_404_NOT_FOUND,
            )
        conversion, created = _service(
            services.conversion_record,
            send=send,
            actor=authenticated_user(request),
            occurred_at=data["occurred_at"],
            value=data.get("value"),
            external_id=data["external_id"],
            source="api",
        )
        return Response(
            ConversionSerializer(conversion).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

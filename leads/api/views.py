"""Partner API for leads: leads with scores and factors, engagement events, score history,
imports and the scoring models. Thin viewsets: input serializers, then services."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from hitl_crm.api.filters import IsoDateTimeFilter
from hitl_crm.api.pagination import CursorPagination
from hitl_crm.permissions import require_permission
from hitl_crm.types import authenticated_user
from leads import selectors, services
from leads.api.serializers import (
    LeadEventInputSerializer,
    LeadEventSerializer,
    LeadImportErrorSerializer,
    LeadImportInputSerializer,
    LeadImportSerializer,
    LeadInputSerializer,
    LeadSerializer,
    OverrideInputSerializer,
    ScoreHistorySerializer,
    ScoringModelSerializer,
)
from leads.models import Lead, LeadEvent, LeadImport, ScoringModel

MAX_EVENTS_PER_CALL = 500


def _require(request: Request, permission: str) -> None:
    require_permission(request.user, permission, message=f"You need the permission {permission}.")


class LeadFilter(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact")
    source = filters.CharFilter(lookup_expr="iexact")
    owner = filters.CharFilter(field_name="owner__username")
    min_score = filters.NumberFilter(field_name="score", lookup_expr="gte")
    mine = filters.BooleanFilter(method="filter_mine")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Lead
        fields = ["status", "tier", "source", "owner", "email", "external_id", "min_score", "mine", "updated_since"]

    def filter_mine(self, queryset: QuerySet[Lead], name: str, value: bool | None) -> QuerySet[Lead]:
        return queryset.filter(owner=authenticated_user(self.request)) if value else queryset


class LeadViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Leads, hottest first, each with its score, tier and the factors behind it."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    search_fields = ["first_name", "last_name", "email", "company"]
    ordering_fields = ["score", "created_at", "updated_at", "last_engaged_at"]
    queryset = Lead.objects.none()  # for the schema; get_queryset filters by permission

    def get_queryset(self) -> QuerySet[Lead]:
        return (
            selectors.lead_visible_to(user=authenticated_user(self.request))
            .select_related("owner", "override_by")
            .order_by("-score", "-id")
        )

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in {"create", "update", "partial_update"}:
            return LeadInputSerializer
        by_action: dict[str, type[BaseSerializer[Any]]] = {
            "override": OverrideInputSerializer,
            "scores": ScoreHistorySerializer,
            "events": LeadEventSerializer,
        }
        return by_action.get(self.action or "", LeadSerializer)

    def _respond(self, lead: Lead, code: int) -> Response:
        lead = self.get_queryset().get(pk=lead.pk)
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=LeadInputSerializer, responses={201: LeadSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LeadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(
            services.lead_create(actor=authenticated_user(request), **serializer.validated_data),
            status.HTTP_201_CREATED,
        )

    @extend_schema(request=LeadInputSerializer, responses=LeadSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_object()
        serializer = LeadInputSerializer(lead, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        lead = services.lead_update(lead=lead, data=dict(serializer.validated_data), actor=authenticated_user(request))
        return self._respond(lead, status.HTTP_200_OK)

    @extend_schema(request=OverrideInputSerializer, responses=LeadSerializer)
    @action(detail=True, methods=["post", "delete"], permission_classes=[IsAuthenticated])
    def override(self, request: Request, pk: str | None = None) -> Response:
        """Correct the score with a reason (POST), or go back to the computed score (DELETE)."""
        _require(request, "leads.view_lead")
        lead = self.get_object()
        _require(request, "leads.override_lead_score")
        if request.method == "DELETE":
            lead = services.lead_score_override_clear(lead=lead, actor=authenticated_user(request))
        else:
            serializer = OverrideInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            lead = services.lead_score_override(
                lead=lead, actor=authenticated_user(request), **serializer.validated_data
            )
        return self._respond(lead, status.HTTP_200_OK)

    @extend_schema(responses=ScoreHistorySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=CursorPagination)
    def scores(self, request: Request, pk: str | None = None) -> Response:
        """The lead's score history, newest first: computed scores and overrides with reasons."""
        lead = self.get_object()
        page = self.paginate_queryset(lead.score_history.select_related("actor").order_by("-id"))
        return self.get_paginated_response(ScoreHistorySerializer(page, many=True).data)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def explain(self, request: Request, pk: str | None = None) -> Response:
        """Every factor of the current score: each model feature's log-odds contribution and the rules that match."""
        return Response(selectors.lead_explanation(lead=self.get_object()))

    @extend_schema(responses=LeadEventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=CursorPagination)
    def events(self, request: Request, pk: str | None = None) -> Response:
        """The lead's engagement timeline, newest first."""
        lead = self.get_object()
        page = self.paginate_queryset(lead.events.order_by("-id"))
        return self.get_paginated_response(LeadEventSerializer(page, many=True).data)


class LeadEventFilter(filters.FilterSet):
    since = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")

    class Meta:
        model = LeadEvent
        fields = ["lead", "kind", "source", "since"]


class LeadEventViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Engagement events. Partners push them (one object, or a list of up to 500); an event's
    ``external_id`` makes a retry harmless. Each push rescores the leads once, shortly after."""

    serializer_class = LeadEventSerializer
    filterset_class = LeadEventFilter
    pagination_class = CursorPagination
    ordering_fields = ["id"]
    queryset = LeadEvent.objects.none()

    def get_queryset(self) -> QuerySet[LeadEvent]:
        return LeadEvent.objects.filter(
            lead__in=selectors.lead_visible_to(user=authenticated_user(self.request))
        ).order_by("-id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return LeadEventInputSerializer if self.action == "create" else LeadEventSerializer

    @extend_schema(
        request=LeadEventInputSerializer(many=True),
        responses={
            201: LeadEventSerializer(many=True),
            200: OpenApiResponse(LeadEventSerializer(many=True), description="Every event was already recorded."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)
        if many and len(request.data) > MAX_EVENTS_PER_CALL:
            raise ValidationError({"non_field_errors": [f"Send at most {MAX_EVENTS_PER_CALL} events per call."]})
        if many and not request.data:
            raise ValidationError({"non_field_errors": ["Send at least one event."]})
        serializer = LeadEventInputSerializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data if many else [serializer.validated_data]
        leads = self._leads(items)
        payload = []
        for index, item in enumerate(items):
            lead = (
                leads.get(("id", item.get("lead")))
                or leads.get(("email", (item.get("lead_email") or "").lower()))
                or leads.get(("ext", item.get("lead_external_id")))
            )
            if lead is None:
                where = f"[{index}].lead" if many else "lead"
                raise ValidationError({where: ["No such lead (or you may not see it)."]})
            payload.append(
                {"lead": lead, **{k: item.get(k) for k in ("kind", "occurred_at", "amount", "data", "external_id")}}
            )
        source = f"api:{authenticated_user(request).get_username()}"[:40]
        results = services.lead_events_record(items=payload, actor=authenticated_user(request), source=source)
        data = [{**LeadEventSerializer(event).data, "created": created} for event, created in results]
        code = status.HTTP_201_CREATED if any(created for _, created in results) else status.HTTP_200_OK
        return Response(data if many else data[0], status=code)

    def _leads(self, items: list[dict[str, Any]]) -> dict[tuple[str, object], Lead]:
        ids = {i["lead"] for i in items if i.get("lead")}
        emails = {i["lead_email"].lower() for i in items if i.get("lead_email")}
        ext = {i["lead_external_id"] for i in items if i.get("lead_external_id")}
        found = selectors.lead_visible_to(user=authenticated_user(self.request)).filter(
            Q(pk__in=ids) | Q(email__in=emails) | Q(external_id__in=ext)
        )
        out: dict[tuple[str, object], Lead] = {}
        for lead in found:
            out[("id", lead.pk)] = lead
            if lead.email:
                out[("email", lead.email)] = lead
            if lead.external_id:
                out[("ext", lead.external_id)] = lead
        return out


class LeadImportViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """CSV imports: upload one (multipart) and poll its progress and counts; list the rows not imported."""

    serializer_class = LeadImportSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    queryset = LeadImport.objects.none()

    def get_queryset(self) -> QuerySet[LeadImport]:
        return selectors.import_list(user=authenticated_user(self.request)).order_by("-id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return LeadImportInputSerializer if self.action == "create" else LeadImportSerializer

    @extend_schema(request=LeadImportInputSerializer, responses={201: LeadImportSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LeadImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        imp = services.lead_import_create(file_name=upload.name, data=upload.read(), actor=authenticated_user(request))
        mapping = serializer.validated_data.get("mapping") or imp.mapping
        if not isinstance(mapping, dict):
            raise ValidationError({"mapping": ["Expected an object of column index: target."]})
        services.lead_import_start(
            lead_import=imp,
            actor=authenticated_user(request),
            mapping={str(k): v for k, v in mapping.items()},
            update_existing=serializer.validated_data["update_existing"],
        )
        imp.refresh_from_db()
        return Response(LeadImportSerializer(imp).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=LeadImportErrorSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None) -> Response:
        """Every row that was not imported, with the line, column and reason."""
        imp = self.get_object()
        page = self.paginate_queryset(imp.errors.order_by("line", "id"))
        return self.get_paginated_response(LeadImportErrorSerializer(page, many=True).data)


class ScoringModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained model versions with their hold-out metrics; ``train`` retrains on demand."""

    serializer_class = ScoringModelSerializer
    queryset = ScoringModel.objects.order_by("-version")

    @extend_schema(request=None, responses={201: ScoringModelSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsAuthenticated])
    def train(self, request: Request) -> Response:
        _require(request, "leads.train_scoringmodel")
        try:
            model = services.scoring_model_train(actor=authenticated_user(request), note="via API")
        except services.NotEnoughData as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(ScoringModelSerializer(model).data, status=status.HTTP_201_CREATED)

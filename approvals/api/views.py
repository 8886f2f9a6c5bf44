"""Partner API for the review queue: list, retrieve, decide, undo, history.

Visibility comes from the per-object review permission (selectors), not from model
permissions: a request the caller may not see answers 404, never 403, so ids cannot be
probed. Decisions go through ``approval_decide`` — the same rules as the web UI.
"""

from __future__ import annotations

from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.api.serializers import (
    ApprovalRequestDetailSerializer,
    ApprovalRequestListSerializer,
    ConflictSerializer,
    DecideInputSerializer,
    HistorySerializer,
    queue_rows,
    queue_rows_data,
)
from approvals.exceptions import ApprovalError, InvalidInput, NotAllowed, PayloadConflict
from approvals.models import ApprovalRequest
from approvals.selectors import approval_history, approval_queue_for, approval_visible_to
from approvals.services import approval_decide, approval_undo
from hitl_crm.api.pagination import CursorPagination
from hitl_crm.types import authenticated_user


class QueuePagination(CursorPagination):
    ordering = "id"  # oldest first: the queue is worked in arrival order


class ApprovalFilter(filters.FilterSet):
    class Meta:
        model = ApprovalRequest
        fields = ["action", "risk", "category"]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This request can no longer be changed."
    default_code = "conflict"


class PayloadChanged(Conflict):
    default_code = "payload_conflict"

    def __init__(self, exc: PayloadConflict) -> None:
        super().__init__(str(exc))
        # Rendered as-is: the payload keeps its JSON types (APIException would make every leaf a string).
        body: dict[str, Any] = {
            "detail": str(exc),
            "code": self.default_code,
            "payload_hash": exc.payload_hash,
            "version": exc.version,
            "payload": exc.payload,
            "sent_payload_hash": exc.sent_hash,
        }
        self.detail = body


class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's review queue (pending requests routed to them) and the requests they may see."""

    permission_classes = [IsAuthenticated]
    pagination_class = QueuePagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ApprovalFilter
    serializer_class = ApprovalRequestDetailSerializer

    def get_queryset(self):
        if self.action == "list":
            return approval_queue_for(user=authenticated_user(self.request))
        return approval_visible_to(user=authenticated_user(self.request)).prefetch_related("subject")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # (No docstring: the schema describes this operation with the class's.) Rows are read as
        # plain values, not model instances, and shaped without the serializer machinery: the
        # output is exactly ApprovalRequestListSerializer's, which still documents it in the
        # schema, at a fraction of the cost (~250 instances and ~900 field calls per 50-row page).
        rows = self.paginate_queryset(queue_rows(self.filter_queryset(self.get_queryset())))
        assert rows is not None  # the viewset always paginates
        return self.get_paginated_response(queue_rows_data(rows))

    def get_serializer_class(self):
        return ApprovalRequestListSerializer if self.action == "list" else ApprovalRequestDetailSerializer

    @extend_schema(
        request=DecideInputSerializer,
        responses={
            200: ApprovalRequestDetailSerializer,
            400: OpenApiResponse(description="A field is missing or invalid (e.g. payload_hash); the body names it."),
            403: OpenApiResponse(description="Not allowed: own request, own subject, or above your authority limit."),
            404: OpenApiResponse(description="No such request, or not one you may review."),
            409: OpenApiResponse(
                ConflictSerializer,
                description="This request changed since you opened it (code payload_conflict: the body carries "
                "the current payload, payload_hash and version; nothing was decided), or it can no longer be "
                "decided (code conflict).",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Approve (optionally with edits of the editable fields), reject (reason required) or request changes.

        Send the ``payload_hash`` of the version you reviewed: a decision applies only to the payload the
        reviewer saw. "Request changes" keeps the request pending and (where the action can) redrafts it.
        """
        req = self.get_object()  # 404 unless the caller may see it
        data = DecideInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            approval_decide(request_id=req.pk, reviewer=authenticated_user(request), **data.validated_data)
        except InvalidInput as exc:
            raise exceptions.ValidationError(exc.errors) from exc
        except NotAllowed as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except PayloadConflict as exc:
            raise PayloadChanged(exc) from exc
        except ApprovalError as exc:
            raise Conflict(str(exc)) from exc
        fresh = self.get_queryset().get(pk=req.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(
        request=None,
        responses={
            200: ApprovalRequestDetailSerializer,
            403: OpenApiResponse(description="Only the person who approved it (or a manager) may undo it."),
            404: OpenApiResponse(description="No such request, or not one you may review."),
            409: OpenApiResponse(
                ConflictSerializer,
                description="Too late: the undo window has passed or execution has started (code conflict).",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Take back an approval in its undo window (``execute_after``): the request is pending again.

        The approver undoes their own approval; a manager (``approvals.cancel_approvalrequest``) the
        latest one. Autopilot approvals have no undo window.
        """
        req = self.get_object()
        try:
            approval_undo(request_id=req.pk, actor=authenticated_user(request))
        except NotAllowed as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except ApprovalError as exc:
            raise Conflict(str(exc)) from exc
        fresh = self.get_queryset().get(pk=req.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(responses=HistorySerializer)
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """Every decision (with what the reviewer changed) and the audit trail of the request."""
        req = self.get_object()
        return Response(HistorySerializer(approval_history(request=req)).data)

"""Thin viewsets: querysets come from the selectors (so what a user cannot see is a 404),
writes go through the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from hitl_crm.api.pagination import CursorPagination
from hitl_crm.errors import InvalidState
from hitl_crm.types import authenticated_user
from service.api.serializers import (
    ArticleInputSerializer,
    ArticleSerializer,
    CaseSerializer,
    CaseUpdateSerializer,
    InboundResultSerializer,
    InboundSerializer,
    MessageSerializer,
    RefundInputSerializer,
    RefundSerializer,
    TriageCorrectionSerializer,
)
from service.models import Case, KnowledgeArticle, Message, RefundRequest
from service.selectors import case_list, knowledge_list, message_list, refund_list
from service.services import (
    case_triage_correct,
    case_update,
    inbound_message_receive,
    knowledge_article_create,
    knowledge_article_update,
    refund_request_create,
)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This is not possible in the current state."
    default_code = "conflict"


def _service(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a write service; a state conflict answers 409 with the service's message (a refusal is
    already Django's ``PermissionDenied``, which DRF answers with 403)."""
    try:
        return call(**kwargs)
    except InvalidState as exc:
        raise Conflict(str(exc)) from exc


class CaseFilter(filters.FilterSet):
    class Meta:
        model = Case
        fields = ["status", "risk", "intent", "needs_human", "contact", "priority"]


class CaseViewSet(mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Support cases with triage, summary and the needs-a-person flag. Writes: status, priority, owner
    (someone who may work cases) and tags, and triage corrections (which become training data)."""

    serializer_class = CaseSerializer
    pagination_class = CursorPagination
    filterset_class = CaseFilter
    search_fields = ["subject", "contact__email"]
    ordering_fields = ["id"]

    def get_queryset(self) -> QuerySet[Case]:
        return case_list(user=authenticated_user(self.request)).order_by("-id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return CaseUpdateSerializer if self.action in {"update", "partial_update"} else CaseSerializer

    @extend_schema(request=CaseUpdateSerializer, responses=CaseSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        serializer = CaseUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        case = _service(case_update, case=case, actor=authenticated_user(request), data=dict(serializer.validated_data))
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data)

    @extend_schema(request=TriageCorrectionSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: str | None = None) -> Response:
        """Correct the AI's intent and/or sentiment; the intent becomes a training example."""
        case = self.get_object()
        serializer = TriageCorrectionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _service(case_triage_correct, case=case, actor=authenticated_user(request), **serializer.validated_data)
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data)


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """Messages of the cases you may see, newest first."""

    serializer_class = MessageSerializer
    pagination_class = CursorPagination
    filterset_fields = ["case", "direction"]
    ordering_fields = ["id"]

    def get_queryset(self) -> QuerySet[Message]:
        return message_list(user=authenticated_user(self.request)).order_by("-id")


class InboundViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Deliver one inbound email (from a mail gateway or a web form). Needs ``service.add_message``.

    201 with the case when stored (``created`` or ``threaded``); 200 with the stored message when
    the Message-ID was already received (nothing changes); 400 naming the field otherwise.
    """

    serializer_class = InboundSerializer
    queryset = Message.objects.none()  # for ModelPermissions: POST needs service.add_message

    @extend_schema(request=InboundSerializer, responses={201: InboundResultSerializer, 200: InboundResultSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = InboundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = inbound_message_receive(mail=serializer.mail, channel=Case.Channel.API, source="api")
        code = status.HTTP_200_OK if result.outcome == "duplicate" else status.HTTP_201_CREATED
        return Response(InboundResultSerializer(result).data, status=code)


class ArticleViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Knowledge articles. Editors see drafts too; everyone else sees published articles."""

    serializer_class = ArticleSerializer
    filterset_fields = ["published"]
    search_fields = ["title", "body", "tags"]
    ordering_fields = ["title", "updated_at"]

    def get_queryset(self) -> QuerySet[KnowledgeArticle]:
        return knowledge_list(user=authenticated_user(self.request)).order_by("title", "id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return ArticleInputSerializer if self.action in {"create", "update", "partial_update"} else ArticleSerializer

    @extend_schema(request=ArticleInputSerializer, responses={201: ArticleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ArticleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = _service(knowledge_article_create, actor=authenticated_user(request), **serializer.validated_data)
        return Response(ArticleSerializer(article).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ArticleInputSerializer, responses=ArticleSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        article = self.get_object()
        serializer = ArticleInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        article = _service(
            knowledge_article_update,
            article=article,
            actor=authenticated_user(request),
            data=dict(serializer.validated_data),
        )
        return Response(ArticleSerializer(article).data)


class RefundViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Refund requests with the policy's recommendation. Creating one routes it for approval;
    nothing is paid until the approvals gate says so."""

    serializer_class = RefundSerializer
    pagination_class = CursorPagination
    filterset_fields = ["case", "status", "recommendation"]
    ordering_fields = ["id"]

    def get_queryset(self) -> QuerySet[RefundRequest]:
        return refund_list(user=authenticated_user(self.request)).order_by("-id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return RefundInputSerializer if self.action == "create" else RefundSerializer

    @extend_schema(request=RefundInputSerializer, responses={201: RefundSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = RefundInputSerializer(data=request.data, cases=case_list(user=authenticated_user(request)))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        refund = _service(
            refund_request_create,
            case=data["case"],
            actor=authenticated_user(request),
            amount=data["amount"],
            currency=data.get("currency", ""),
            order_ref=data.get("order_ref", ""),
            reason=data.get("reason", ""),
        )
        return Response(RefundSerializer(RefundRequest.objects.get(pk=refund.pk)).data, status=status.HTTP_201_CREATED)


__all__ = ["ArticleViewSet", "CaseViewSet", "InboundViewSet", "MessageViewSet", "RefundViewSet"]

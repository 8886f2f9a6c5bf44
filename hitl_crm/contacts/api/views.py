from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hitl_crm.api.filters import IsoDateTimeFilter
from hitl_crm.api.pagination import CursorPagination
from hitl_crm.contacts.api.serializers import (
    AccountInputSerializer,
    AccountSerializer,
    ActivityInputSerializer,
    ActivitySerializer,
    ContactInputSerializer,
    ContactSerializer,
)
from hitl_crm.contacts.models import Account, Contact
from hitl_crm.contacts.selectors import contact_timeline
from hitl_crm.contacts.services import (
    account_create,
    account_update,
    activity_record,
    contact_create,
    contact_update,
)
from hitl_crm.types import authenticated_user


class AccountFilter(filters.FilterSet):
    domain = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Account
        fields = ["tier", "industry", "country", "domain"]


class ContactFilter(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact")
    unsubscribed = filters.BooleanFilter(field_name="unsubscribed_at", lookup_expr="isnull", exclude=True)
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Contact
        fields = ["account", "email", "email_consent", "unsubscribed", "updated_since"]


class _WriteThroughServices:
    """create/update validate with an input serializer, call a service, answer with the output one."""

    input_serializer_class: type
    serializer_class: type

    if TYPE_CHECKING:  # provided by the GenericAPIView this is mixed into (declared here for the type checker only)

        def get_queryset(self) -> QuerySet[Any]: ...

        def get_serializer_context(self) -> dict[str, Any]: ...

    def _respond(self, instance, code: int) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.serializer_class(instance, context=self.get_serializer_context()).data, status=code)


class AccountViewSet(
    _WriteThroughServices, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Companies. VIP tier routes their requests to senior reviewers."""

    serializer_class = AccountSerializer
    input_serializer_class = AccountInputSerializer
    filterset_class = AccountFilter
    search_fields = ["name", "domain"]
    ordering_fields = ["name", "created_at", "employees"]
    queryset = Account.objects.annotate(contact_count=Count("contacts")).order_by("name", "id")

    def get_serializer_class(self):
        return (
            self.input_serializer_class if self.action in {"create", "update", "partial_update"} else AccountSerializer
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self._validated(request)
        return self._respond(account_create(actor=authenticated_user(request), **data), status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        account = self.get_object()
        data = self._validated(request, partial=kwargs.get("partial", False))
        account = account_update(account=account, data=data, actor=authenticated_user(request))
        return self._respond(account, status.HTTP_200_OK)

    def _validated(self, request: Request, partial: bool = False) -> dict:
        serializer = AccountInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ContactViewSet(
    _WriteThroughServices, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """People at accounts, with consent state and a timeline of activities."""

    serializer_class = ContactSerializer
    input_serializer_class = ContactInputSerializer
    filterset_class = ContactFilter
    search_fields = ["first_name", "last_name", "email", "account__name"]
    ordering_fields = ["last_name", "created_at", "updated_at", "last_activity_at"]
    queryset = Contact.objects.select_related("account").order_by("last_name", "first_name", "id")

    def get_serializer_class(self):
        if self.action in {"create", "update", "partial_update"}:
            return ContactInputSerializer
        if self.action == "activities":
            return ActivityInputSerializer if self.request.method == "POST" else ActivitySerializer
        return ContactSerializer

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = ContactInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = contact_create(actor=authenticated_user(request), source="api", **serializer.validated_data)
        return self._respond(contact, status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        contact = self.get_object()
        serializer = ContactInputSerializer(contact, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        contact = contact_update(
            contact=contact, data=dict(serializer.validated_data), actor=authenticated_user(request), source="api"
        )
        return self._respond(contact, status.HTTP_200_OK)

    @extend_schema(responses=ActivitySerializer(many=True), filters=False)
    @action(detail=True, methods=["get", "post"], pagination_class=CursorPagination)
    def activities(self, request: Request, pk: str | None = None) -> Response:
        """The contact's timeline, newest first (GET); record a note, call or meeting (POST)."""
        contact = self.get_object()
        if request.method == "POST":
            if not request.user.has_perm("contacts.add_activity"):
                self.permission_denied(request, message="You may not add activities.")
            serializer = ActivityInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            activity = activity_record(
                contact=contact, actor=authenticated_user(request), source="api", **serializer.validated_data
            )
            return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(contact_timeline(contact=contact).order_by("-id"))
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)

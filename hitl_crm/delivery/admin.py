from __future__ import annotations

from django.contrib import admin

from hitl_crm.delivery.models import Delivery, DeliveryEvent


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "verb", "state", "actor", "data")
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only: states change only through the kernel's services (and the "Possibly sent" page)."""

    list_display = ("key", "kind", "recipient", "summary", "state", "created_at", "sent_at", "resolved_by")
    list_filter = ("state", "kind", "channel")
    search_fields = ("key", "recipient", "summary", "source")
    inlines = [DeliveryEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

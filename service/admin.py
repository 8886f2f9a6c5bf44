"""Admin: read-mostly views of the service desk. Replies and refunds are never sent from here;
they go through the approvals gate like everything else."""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from service.models import Case, KnowledgeArticle, LedgerEntry, Message, RefundRequest, TriageCorrection


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("direction", "sender", "subject", "occurred_at", "message_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "contact", "status", "intent", "risk", "needs_human", "last_message_at"]
    list_filter = ["status", "risk", "needs_human", "channel"]
    search_fields = ["subject", "contact__email"]
    raw_id_fields = ["contact", "owner"]
    readonly_fields = [
        "flags",
        "summary",
        "key_points",
        "facts",
        "summary_version",
        "thread_version",
        "suggested_article_ids",
        "waiting_since",
        "created_at",
        "updated_at",
    ]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "case", "direction", "sender", "subject", "occurred_at", "processed_at"]
    list_filter = ["direction"]
    search_fields = ["message_id", "sender", "subject"]
    raw_id_fields = ["case", "reply_to", "author"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages arrive by mail or the API, and leave through approvals

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "published", "tags", "last_reviewed_at", "updated_at"]
    list_filter = ["published"]
    search_fields = ["title", "body", "tags"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(RefundRequest)
class RefundRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "case", "amount", "currency", "order_ref", "recommendation", "status", "issued_at"]
    list_filter = ["status", "recommendation", "currency"]
    search_fields = ["order_ref"]
    readonly_fields = [f.name for f in RefundRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["reference", "kind", "amount", "currency", "order_ref", "created_at"]
    search_fields = ["reference", "order_ref", "idempotency_key"]
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(TriageCorrection)
class TriageCorrectionAdmin(admin.ModelAdmin):
    list_display = ["case", "field", "before", "after", "actor", "created_at"]
    list_filter = ["field"]
    readonly_fields = [f.name for f in TriageCorrection._meta.fields]

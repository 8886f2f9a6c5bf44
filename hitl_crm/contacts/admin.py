from django.contrib import admin

from hitl_crm.contacts.models import Account, Activity, Contact


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ["first_name", "last_name", "email", "title"]
    extra = 0
    show_change_link = True


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "employees", "country", "tier", "owner"]
    list_filter = ["tier", "industry", "country"]
    search_fields = ["name", "domain"]
    autocomplete_fields = ["owner"]
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "account", "title", "email_consent", "unsubscribed_at", "last_activity_at"]
    list_filter = ["email_consent", ("unsubscribed_at", admin.EmptyFieldListFilter), "account__tier"]
    search_fields = ["first_name", "last_name", "email", "account__name"]
    autocomplete_fields = ["account", "owner"]
    list_select_related = ["account"]
    readonly_fields = ["consent_at", "last_activity_at", "created_at", "updated_at"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "contact", "kind", "summary", "source", "actor"]
    list_filter = ["kind", "source"]
    search_fields = ["summary", "contact__email", "contact__last_name"]
    list_select_related = ["contact", "actor"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["contact", "actor"]

    def has_change_permission(self, request, obj=None) -> bool:
        # The timeline is a record of what happened; entries are not rewritten.
        return False

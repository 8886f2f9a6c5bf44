from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from hitl_crm.web import views as web_views

admin.site.site_header = "hitl-crm administration"
admin.site.site_title = "hitl-crm admin"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", web_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(("hitl_crm.api.urls", "api"), namespace="api")),
    path("approvals/", include("approvals.urls")),
    path("leads/", include("leads.urls")),
    path("service/", include("service.urls")),
    path("marketing/", include("marketing.urls")),
    path("deliveries/", include("hitl_crm.delivery.urls")),
    path("", include("hitl_crm.web.urls")),
]

handler400 = "hitl_crm.web.views.error_400"
handler403 = "hitl_crm.web.views.error_403"
handler404 = "hitl_crm.api.errors.not_found"  # JSON under /api/, the page elsewhere
handler500 = "hitl_crm.api.errors.server_error"

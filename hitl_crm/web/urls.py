from django.urls import path

from hitl_crm.web import crm_views, views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("contacts/", views.contact_list_view, name="contact_list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("search/", views.search, name="search"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<str:name>/", views.outbox_message, name="outbox_message"),
    path("contacts/<int:pk>/edit/", crm_views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/log/", crm_views.contact_log_activity, name="contact_log_activity"),
    path("accounts/<int:pk>/", crm_views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", crm_views.account_edit, name="account_edit"),
]

from django.urls import path

from hitl_crm.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("contacts/", views.contact_list_view, name="contact_list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("search/", views.search, name="search"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<str:name>/", views.outbox_message, name="outbox_message"),
]

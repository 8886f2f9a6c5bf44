from django.urls import path

from service import views

app_name = "service"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("needs-human/", views.needs_human, name="needs_human"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/triage/", views.case_triage, name="case_triage"),
    path("cases/<int:pk>/draft/", views.case_draft_decide, name="case_draft_decide"),
    path("cases/<int:pk>/reply/", views.case_reply, name="case_reply"),
    path("cases/<int:pk>/status/", views.case_status, name="case_status"),
    path("cases/<int:pk>/edit/", views.case_edit, name="case_edit"),
    path("cases/<int:pk>/assign-to-me/", views.case_assign_me, name="case_assign_me"),
    path("kb/", views.kb_list, name="kb_list"),
    path("kb/new/", views.kb_create, name="kb_create"),
    path("kb/<int:pk>/", views.kb_detail, name="kb_detail"),
    path("kb/<int:pk>/edit/", views.kb_edit, name="kb_edit"),
]

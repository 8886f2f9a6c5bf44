from django.urls import path

from leads import views

app_name = "leads"
urlpatterns = [
    path("", views.prospects, name="prospects"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/status/", views.status, name="status"),
    path("<int:pk>/override/", views.override, name="override"),
    path("<int:pk>/followup/", views.followup, name="followup"),
    path("<int:pk>/followup/write/", views.followup_write, name="followup_write"),
    path("imports/", views.imports, name="imports"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/preview/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.csv", views.import_errors_csv, name="import_errors"),
    path("scoring/", views.scoring, name="scoring"),
    path("scoring/rules/", views.rule_add, name="rule_add"),
    path("scoring/rules/<int:pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("scoring/rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("scoring/train/", views.train, name="train"),
    path("scoring/models/<int:pk>/activate/", views.model_activate, name="model_activate"),
]

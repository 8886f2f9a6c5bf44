from django.urls import path

from approvals import views

app_name = "approvals"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("badge/", views.badge, name="badge"),
    path("bulk/", views.bulk, name="bulk"),
    path("analytics/", views.analytics, name="analytics"),
    path("r/<str:token>/", views.from_link, name="from_link"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/decide/", views.decide, name="decide"),
    path("<int:pk>/requeue/", views.requeue, name="requeue"),
    path("<int:pk>/undo/", views.undo, name="undo"),
    path("<int:pk>/escalate/", views.escalate, name="escalate"),
]

from django.urls import path

from hitl_crm.delivery import views

app_name = "delivery"

urlpatterns = [
    path("", views.delivery_list, name="list"),
    path("<int:pk>/send-again/", views.send_again, name="send_again"),
    path("<int:pk>/mark-sent/", views.mark_sent, name="mark_sent"),
]

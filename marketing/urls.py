"""Marketing pages (staff) and the public tracking endpoints, mounted by the site under ``marketing/``."""

from django.urls import path

from marketing import views

app_name = "marketing"
urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("new/", views.campaign_create, name="campaign_create"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/brief/", views.campaign_edit, name="campaign_edit"),
    path("<int:pk>/generate/", views.campaign_generate, name="campaign_generate"),
    path("<int:pk>/variants/", views.variant_add, name="variant_add"),
    path("<int:pk>/variants/<int:variant_pk>/", views.variant_edit, name="variant_edit"),
    path("<int:pk>/variants/<int:variant_pk>/status/", views.variant_status, name="variant_status"),
    path("<int:pk>/lock/", views.campaign_lock, name="campaign_lock"),
    path("<int:pk>/unlock/", views.campaign_unlock, name="campaign_unlock"),
    path("<int:pk>/audience/", views.campaign_audience, name="campaign_audience"),
    path("<int:pk>/submit/", views.campaign_submit, name="campaign_submit"),
    path("<int:pk>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path("<int:pk>/results/", views.campaign_results_view, name="campaign_results"),
    path("<int:pk>/winner/", views.campaign_winner, name="campaign_winner"),
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_create, name="segment_create"),
    path("segments/count/", views.segment_count, name="segment_count"),
    path("segments/rules/", views.segment_rules, name="segment_rules"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/size/", views.segment_size, name="segment_size"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    # public, linked from campaign emails
    path("t/o/<str:token>/", views.track_open, name="track_open"),
    path("t/c/<str:token>/", views.track_click, name="track_click"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

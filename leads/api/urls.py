from rest_framework.routers import SimpleRouter

from leads.api.views import LeadEventViewSet, LeadImportViewSet, LeadViewSet, ScoringModelViewSet

router = SimpleRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("lead-events", LeadEventViewSet, basename="lead-event")
router.register("lead-imports", LeadImportViewSet, basename="lead-import")
router.register("lead-scoring-models", ScoringModelViewSet, basename="lead-scoring-model")
urlpatterns = router.urls

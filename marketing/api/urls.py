"""Marketing API routes; the site includes ``urlpatterns`` under /api/v1/."""

from rest_framework.routers import SimpleRouter

from marketing.api.views import CampaignViewSet, ConversionViewSet, SegmentViewSet, VariantViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("segments", SegmentViewSet, basename="segment")
router.register("variants", VariantViewSet, basename="variant")
router.register("conversions", ConversionViewSet, basename="conversion")
urlpatterns = router.urls

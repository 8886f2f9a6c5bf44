"""The service desk's API routes; the site includes them under /api/v1/."""

from rest_framework.routers import SimpleRouter

from service.api.views import ArticleViewSet, CaseViewSet, InboundViewSet, MessageViewSet, RefundViewSet

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="service-case")
router.register("messages", MessageViewSet, basename="service-message")
router.register("articles", ArticleViewSet, basename="service-article")
router.register("refunds", RefundViewSet, basename="service-refund")
router.register("inbound", InboundViewSet, basename="service-inbound")
urlpatterns = router.urls

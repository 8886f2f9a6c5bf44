from rest_framework.routers import SimpleRouter

from hitl_crm.contacts.api.views import AccountViewSet, ContactViewSet

router = SimpleRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("contacts", ContactViewSet, basename="contact")
urlpatterns = router.urls

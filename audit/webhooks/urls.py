from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from audit.webhooks import api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("webhooks", api.WebhookEndpointViewSet, basename="webhooks")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from hooks import api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("hooks", api.PreWriteHookViewSet, basename="hooks")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]

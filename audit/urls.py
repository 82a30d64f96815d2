from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from audit import api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("audit-events", api.AuditEventViewSet, basename="audit-events")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("events/stream", api.EventStreamView.as_view(), name="events-stream"),
]

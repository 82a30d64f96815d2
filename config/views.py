"""Answers for requests that never reach an API view: health, unknown /api paths, crashes."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import error_response
from orgs.bases import PublicView

logger = logging.getLogger("tenantry.errors")


class HealthView(PublicView):
    @extend_schema(
        auth=[],
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class OpenAPIDocumentView(SpectacularJSONAPIView, PublicView):
    """``/api/docs.json``. drf-spectacular's view first: its authentication stays as it was."""


class APIReferenceView(SpectacularSwaggerView, PublicView):
    """``/developers/api``: the interactive reference, from our own static files."""


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return error_response(request, status=404, message="Resource not found", code="not_found")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(request, status=400, message="Bad request", code="invalid_request")
    return defaults.bad_request(request, exception or Exception())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(
            request, status=403, message="You do not have permission", code="forbidden"
        )
    return defaults.permission_denied(request, exception or Exception())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    # Django's own logging of the crash is routed away (settings.LOGGING); this line carries
    # the request id so an operator can find it from the client's error body.
    logger.error("Unhandled error in %s", request.path, exc_info=True)
    if _is_api(request):
        return error_response(
            request, status=500, message="Internal server error", code="internal_error"
        )
    return defaults.server_error(request)

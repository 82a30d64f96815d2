"""Answers for requests that never reach an API view: health, unknown /api paths, crashes."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import error_response

logger = logging.getLogger("tenantry.errors")


@extend_schema(
    auth=[],
    responses=inline_serializer("Health", {"status": serializers.CharField()}),
    tags=["health"],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def health(request: Request) -> Response:
    return Response({"status": "ok"})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # nothing is served here, so there is nothing to forge: a POST is a JSON 404
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


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return error_response(
            request, status=403, message="CSRF verification failed", code="forbidden"
        )
    return csrf.csrf_failure(request, reason)


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

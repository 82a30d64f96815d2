"""Answers for requests that never reach an API view: health, unknown /api paths, crashes."""

import logging

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.access_log import redact_path
from config.errors import error_response
from orgs.bases import PublicView

logger = logging.getLogger("tenantry.errors")


class HealthView(PublicView):
    reads_tenant_rows = False

    @extend_schema(
        auth=[],
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class OpenAPIDocumentView(SpectacularJSONAPIView, PublicView):
    """``/api/docs.json``. drf-spectacular's view first: its authentication stays as it was."""

    reads_tenant_rows = False


class APIReferenceView(SpectacularSwaggerSplitView, PublicView):
    """``/developers/api``: the interactive reference, from our own static files."""

    reads_tenant_rows = False


class _Ready:
    """Readiness, checked per probe; a process that once saw every migration applied keeps
    that answer (its code cannot gain unapplied migrations while it runs)."""

    migrations_applied = False

    @classmethod
    def checks(cls) -> dict[str, str]:
        return {"database": _database(), "cache": _cache(), "migrations": cls._migrations()}

    @classmethod
    def _migrations(cls) -> str:
        if not cls.migrations_applied:
            try:
                executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            except Exception:  # the database check names the cause
                return "unknown"
            cls.migrations_applied = not plan
        return "ok" if cls.migrations_applied else "pending"


def _database() -> str:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.warning("Readiness: the database is unreachable", exc_info=True)
        return "unreachable"
    return "ok"


def _cache() -> str:
    try:
        cache.set("health:ready", "1", timeout=5)
        ok = cache.get("health:ready") == "1"
    except Exception:
        logger.warning("Readiness: the cache is unreachable", exc_info=True)
        ok = False
    return "ok" if ok else "unreachable"


class ReadyView(PublicView):
    reads_tenant_rows = False

    @extend_schema(
        auth=[],
        responses={
            200: inline_serializer(
                "Ready",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
            503: OpenApiResponse(description="Not ready: `details` names each check's state"),
        },
        tags=["health"],
        description="Readiness: the database and cache answer and every migration is applied.",
    )
    def get(self, request: Request) -> Response | JsonResponse:
        checks = _Ready.checks()
        if all(state == "ok" for state in checks.values()):
            return Response({"status": "ready", "checks": checks})
        return error_response(
            request, status=503, message="Not ready", code="not_ready", details=checks
        )


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
    # The path may carry a token (an invitation or password-reset link): redacted as in the
    # access log.
    logger.error("Unhandled error in %s", redact_path(request.path), exc_info=True)
    if _is_api(request):
        return error_response(
            request, status=500, message="Internal server error", code="internal_error"
        )
    return defaults.server_error(request)

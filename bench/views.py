"""What people would pick instead of Tenantry's authentication, served by the same server.

- ``django_health``: a bare Django view, no DRF: what a request costs at all.
- ``DrfNoAuth``: a plain DRF view with no authentication: what DRF itself adds.
- ``DrfApiKeyMe``: a users/me-style view guarded by djangorestframework-api-key's
  ``HasAPIKey`` (the key's hash is looked up on every request, as ours is).
- ``floor``: the physical floor of an authenticated request: plain Django, SHA-256 of the
  presented key and one raw indexed SQL lookup, nothing else.
"""

import hashlib
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

FLOOR_TABLE = "bench_floor_key"


def django_health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


class DrfNoAuth(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class DrfApiKeyMe(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [HasAPIKey]

    def get(self, request: Request) -> Response:
        return Response({"credential": "api_key", "status": "ok"})


def floor(request: HttpRequest) -> JsonResponse:
    raw = request.META.get("HTTP_X_API_KEY", "")
    digest = hashlib.sha256(raw.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, org_id FROM {FLOOR_TABLE} WHERE digest = %s", [digest])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": "Invalid API key"}, status=401)
    return JsonResponse({"id": row[0], "org_id": row[1]})

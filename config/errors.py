"""The one error shape of the API: {"error", "code", "details", "request_id"}."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from config.request_id import current_request_id


def error_body(
    *, message: str, code: str, details: Any = None, request: HttpRequest | None = None
) -> dict[str, Any]:
    request_id = getattr(request, "request_id", None) or current_request_id.get()
    return {"error": message, "code": code, "details": details, "request_id": request_id}


def error_response(
    request: HttpRequest, *, status: int, message: str, code: str, details: Any = None
) -> JsonResponse:
    return JsonResponse(
        error_body(message=message, code=code, details=details, request=request), status=status
    )

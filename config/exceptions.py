"""Renders every exception raised in an API view as the documented error shape.

Apps raise DRF's own exceptions (optionally with a ``code`` such as ``expired`` or
``jwt_disabled``); this handler maps them onto the status and machine code of the contract.
It never imports an app.

An error answer does not roll the request's transaction back (``ATOMIC_REQUESTS`` is off, so
DRF's ``set_rollback`` would do nothing, and this handler does not call it): the request's
transaction (``orgs.bases``) is there to name the org for row-level security, and each
service's write is atomic on its own, so a refused write has written nothing. What a refusal
records on purpose (a failed second-factor code counted and audited, then a 401) must stay.
"""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.errors import error_body
from config.parsers import PayloadTooLarge
from hooks.errors import HookDenied
from orgs.errors import Conflict, PolicyViolation

logger = logging.getLogger("tenantry.errors")

# Codes an app may attach to an exception of the matching family; anything else falls back
# to the family's default code so an internal code never leaks into the contract.
_REFINED_CODES = {
    status.HTTP_401_UNAUTHORIZED: {"expired", "mfa_required"},
    status.HTTP_403_FORBIDDEN: {"jwt_disabled", "mfa_enrollment_required"},
}
_DEFAULT_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorized",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "invalid_request",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "invalid_request",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "invalid_request",
    status.HTTP_422_UNPROCESSABLE_ENTITY: "validation_error",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
}
_MESSAGES = {
    "invalid_request": "Malformed request",
    "unauthorized": "Authentication required",
    "expired": "Token has expired",
    "forbidden": "You do not have permission to perform this action",
    "not_found": "Resource not found",
    "conflict": "Conflict with the current state",
    "validation_error": "Validation failed",
    "rate_limited": "Too many requests",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    if isinstance(exc, Ratelimited):
        exc = exceptions.Throttled()
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        # A service looked the object up in the caller's org and did not find it: another
        # org's object, or one deleted meanwhile. Either way the contract's 404.
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, HookDenied):  # before ValidationError, which it also is
        body = error_body(
            message=exc.denial_message,
            code="hook_denied",
            details={"reason": exc.reason, "action": exc.action, "outcome": exc.outcome},
            request=request,
        )
        return Response(body, status=status.HTTP_403_FORBIDDEN)
    elif isinstance(exc, PolicyViolation):  # before ValidationError, which it also is
        details = validation_details(exc.message_dict)
        body = error_body(
            message=exc.summary,
            code="policy_violation",
            details={"rules": exc.rules, **details},
            request=request,
        )
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    elif isinstance(exc, Conflict):  # before ValidationError, which it also is
        message = exc.conflict_message
        body = error_body(
            message=message,
            code="conflict",
            details={
                "fieldErrors": {exc.field: [message]} if exc.field else {},
                "formErrors": [] if exc.field else [message],
            },
            request=request,
        )
        return Response(body, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError for broken business rules.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )

    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            message="Validation failed",
            code="validation_error",
            details=validation_details(exc.detail),
            request=request,
        )
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)

    response = exception_handler(exc, context)  # sets WWW-Authenticate, Retry-After
    if response is None:
        logger.exception("Unhandled error in %s", getattr(request, "path", "?"))
        body = error_body(message="Internal server error", code="internal_error", request=request)
        return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    assert isinstance(exc, exceptions.APIException)
    code = _code_for(exc, response.status_code)
    message = _message_for(exc, code)
    # An exception may carry what the client needs to go on (``error_details``: the API
    # login's mfa_token); nothing else reaches ``details`` outside a 422 or 409.
    carried = getattr(exc, "error_details", None)
    response.data = error_body(message=message, code=code, details=carried, request=request)
    return response


def _code_for(exc: exceptions.APIException, status_code: int) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str) and codes in _REFINED_CODES.get(status_code, ()):
        return codes
    return _DEFAULT_CODES.get(
        status_code, "invalid_request" if status_code < 500 else "internal_error"
    )


def _message_for(exc: exceptions.APIException, code: str) -> str:
    detail = exc.detail
    if isinstance(detail, str) and detail:
        return str(detail)
    return _MESSAGES.get(code, "Request failed")


def validation_details(detail: Any) -> dict[str, Any]:
    """DRF's nested error detail as ``{"fieldErrors": {path: [msg]}, "formErrors": [msg]}``."""
    field_errors: dict[str, list[str]] = {}
    form_errors: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("non_field_errors", "__all__") and not path:
                    walk(value, "")
                else:
                    walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict | list):
                    walk(item, f"{path}.{index}" if path else str(index))
                else:
                    walk(item, path)
        elif path:
            field_errors.setdefault(path, []).append(str(node))
        else:
            form_errors.append(str(node))

    walk(detail, "")
    return {"fieldErrors": field_errors, "formErrors": form_errors}

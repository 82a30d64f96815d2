"""drf-spectacular customisation: each operation's required action (``x-required-action``,
from the views' ``required_actions``), the error shape on every operation, the roles table."""

from typing import Any

from django.conf import settings
from drf_spectacular import openapi
from drf_spectacular.plumbing import get_lib_doc_excludes

from orgs.permissions import required_action
from orgs.roles import ACCESS_LEVELS, ACTIONS, RequiredAction, roles_table_markdown

REQUIRED_ACTION = "x-required-action"
REQUIRED_ACTION_ANY_OF = "x-required-action-any-of"


def doc_excludes() -> list[Any]:
    """The named bases' docstrings describe the code, not an operation: they are left out of
    the document like DRF's own (drf-spectacular's ``GET_LIB_DOC_EXCLUDES``)."""
    from orgs.bases import API_BASES

    return [*get_lib_doc_excludes(), *API_BASES]


def required_action_line(required: RequiredAction) -> str:
    names = required if isinstance(required, tuple) else (required,)
    first, *others = names
    if first in ACCESS_LEVELS:
        line = f"**Required action:** none. {ACCESS_LEVELS[first]}."
    else:
        line = f"**Required action:** `{first}`: {ACTIONS[first]}"
    for other in others:
        line += f"; or `{other}`: {ACTIONS[other]}"
    return line


class AutoSchema(openapi.AutoSchema):
    """Adds what each operation requires, read from the view's ``required_actions``: the
    ``x-required-action`` extension (the action; with alternatives, also
    ``x-required-action-any-of``) and a line in the description. An API key needs that
    action among its scopes; a person needs a role that has it (see the roles table)."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        required = required_action(self.view, self.method)
        if required is None:
            return operation  # refused for everyone; the route test names such a view
        names = list(required) if isinstance(required, tuple) else [required]
        operation[REQUIRED_ACTION] = names[0]
        if len(names) > 1:
            operation[REQUIRED_ACTION_ANY_OF] = names
        note = getattr(self.view, "api_note", "")
        parts = [operation.get("description", ""), note, required_action_line(required)]
        operation["description"] = "\n\n".join(part for part in parts if part)
        return operation


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code", "details", "request_id"],
    "properties": {
        "error": {"type": "string", "description": "Human-readable message"},
        "code": {
            "type": "string",
            "enum": [
                "invalid_request",
                "unauthorized",
                "expired",
                "forbidden",
                "jwt_disabled",
                "hook_denied",
                "mfa_required",
                "mfa_enrollment_required",
                "not_found",
                "method_not_allowed",
                "conflict",
                "validation_error",
                "policy_violation",
                "rate_limited",
                "not_ready",
                "internal_error",
            ],
        },
        "details": {
            "nullable": True,
            "description": "fieldErrors/formErrors on a 422 or 409; a policy_violation (422) "
            "adds rules, the codes of the organization's policy rules the request breaks; "
            "{mfa_token} on a 401 mfa_required",
        },
        "request_id": {"type": "string", "example": "req_3f2a9c0d1e2b4a5c6d7e8f90"},
    },
}
_AUTH_ERRORS = {
    "401": "Missing, invalid, expired or ambiguous (two different) credentials",
    "403": "Role lacks the action",
}
_COMMON_ERRORS = {
    "400": "Malformed request body (not JSON, or nested deeper than 32 levels)",
    "404": "Resource not found (another organization's resources are never disclosed)",
    "405": "Method not allowed",
    "413": "Request body over 2.5 MB",
    "415": "Unsupported media type (send application/json)",
    "422": "Validation failed (validation_error), or refused by the organization's policy "
    "(policy_violation, details.rules naming each rule)",
    "429": "Rate limited",
    "500": "Internal error",
}
_WRITE_ERRORS = {
    "409": "Conflict with the current state (duplicate, already pending or done; or changed "
    "while a pre-write hook decided: try again)"
}
# Public operations that still judge what they are sent: a password, a refresh token, an
# invitation token (401), or an org that switched JWT sign-in off (a refresh: 403
# jwt_disabled; a login answers 401 like any failure, so it tells no guesser anything).
_PUBLIC_WITH_CREDENTIALS = {
    "auth_login": {
        "401": "Invalid credentials: any failure, also an org that switched JWT sign-in off; "
        "or `mfa_required` (right password, a second factor is owed): `details.mfa_token` "
        "goes to POST /api/auth/mfa",
        "403": "`mfa_enrollment_required`: right password, and the org requires a second "
        "factor the person has not enrolled",
    },
    "auth_mfa": {
        "401": "Invalid, used or expired mfa_token, or one past its wrong-code limit: sign in "
        "again",
        "403": "JWT sign-in was switched off for this org meanwhile (`jwt_disabled`)",
    },
    "auth_refresh": {
        "401": "Invalid, spent or expired refresh token",
        "403": "JWT sign-in is off for this org",
    },
    "invitations_accept": {"401": "Invalid or expired invitation, or a wrong password"},
}
# Writes an org's pre-write hooks are asked about (``hooks``): a refusal, or a hook that
# cannot answer and fails closed, is a 403 with the code ``hook_denied``.
_HOOK_GUARDED = {
    "invitations_create": "member.invite",
    "members_update": "member.role_change",
    "api_keys_create": "api_key.create",
    "api_keys_roll": "api_key.roll",
}
_HOOK_DENIED = (
    "Role lacks the action; or the organization's pre-write hook for `{action}` refused the "
    "write, or could not answer and fails closed: code `hook_denied`, the hook's reason in "
    "`details.reason` (nothing was written)"
)
_UNSAFE = {"post", "put", "patch", "delete"}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    info = result.setdefault("info", {})
    info["description"] = (
        info.get("description", "")
        + "\n\n## Roles and actions\n\nA credential may do what its holder's CURRENT role "
        "allows (for an API key: intersected with the key's scopes).\n\n" + roles_table_markdown()
    )
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _ERROR_SCHEMA
    _state_formats(components)
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            # Security comes from each view's authentication classes; none means public.
            public = not [s for s in operation.get("security", []) if s]
            if public:
                operation["security"] = []
            errors = dict(_COMMON_ERRORS)
            if not public:
                errors.update(_AUTH_ERRORS)
            errors.update(_PUBLIC_WITH_CREDENTIALS.get(operation.get("operationId", ""), {}))
            if method in _UNSAFE:
                errors.update(_WRITE_ERRORS)
            if hooked := _HOOK_GUARDED.get(operation.get("operationId", "")):
                errors["403"] = _HOOK_DENIED.format(action=hooked)
            for status_code, description in errors.items():
                responses.setdefault(
                    status_code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
            _state_limits(operation)
            # An error a view declares by description only (503 from readiness) has the shape too.
            for status_code, response in responses.items():
                if status_code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = {"application/json": {"schema": ref}}
    return result


def _state_limits(operation: dict[str, Any]) -> None:
    """Every ``limit`` is 1 to 100 (more is a 422); every ``page`` at least 1."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        if parameter.get("name") == "limit":
            parameter["schema"] = {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.MAX_PAGE_SIZE,
                "default": settings.PAGE_SIZE,
            }
        elif parameter.get("name") == "page":
            parameter["schema"] = {"type": "integer", "minimum": 1, "default": 1}


_CIDR = {
    "type": "string",
    "format": "cidr",
    "maxLength": 64,
    "description": "An IPv4 or IPv6 address or CIDR block, e.g. 203.0.113.0/24",
}
_ORIGIN = {
    "type": "string",
    "format": "uri",
    "pattern": "^https?://[^/?#]+/?$",
    "maxLength": 255,
    "description": "An origin: scheme://host[:port], http or https",
}
_FORMATS: dict[str, dict[str, Any]] = {
    "allowed_ips": {"items": _CIDR},
    "allowed_origins": {"items": _ORIGIN},
    "expires_at": {"description": "Must be in the future; null or absent: never expires"},
    "url": {
        "format": "uri",
        "pattern": "^https?://",
        "description": "https (http only where WEBHOOK_REQUIRE_HTTPS is off); no credentials; "
        "not a private or reserved address (webhooks and pre-write hooks alike)",
    },
}
_FORMATTED_COMPONENTS = (
    "APIKeyCreateRequest",
    "PatchedAPIKeyUpdateRequest",
    "WebhookEndpointCreateRequest",
    "PatchedWebhookEndpointUpdateRequest",
    "PreWriteHookCreateRequest",
    "PatchedPreWriteHookUpdateRequest",
)


def _state_formats(components: dict[str, Any]) -> None:
    """Formats DRF's fields cannot say: CIDR blocks, origins, URL schemes, future dates."""
    for name in _FORMATTED_COMPONENTS:
        properties = components.get(name, {}).get("properties", {})
        for field, extra in _FORMATS.items():
            if field in properties:
                properties[field].update(extra)

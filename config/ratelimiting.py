"""Rate limits on every API route, with their headers; usage metering rides along.

Two pieces, named in settings, so no view opts in:

- ``NestedRateThrottle`` (DRF's DEFAULT_THROTTLE_CLASSES) runs in every API view once the
  credential is known: it counts the request's usage (buffered, ``usage.counters``) and
  takes a token from each of its buckets (``orgs.ratelimits``: from what the process has
  reserved, or one Redis round trip that reserves more and carries the pending usage), and
  refuses with 429 when any bucket has none.
- ``RateLimitMiddleware`` puts the headers of the tightest bucket on every ``/api/`` answer
  (except the health check). An answer given before the throttle could run (401 for a bad
  credential, 403 for a role, an unknown path) is counted afterwards by its principal or
  client address, and becomes a 429 when that bucket was already spent: such answers have
  no side effects, so counting them late changes nothing but what the client sees.

Headers: ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (epoch seconds), and the IETF
draft's (draft-ietf-httpapi-ratelimit-headers) ``RateLimit-Policy`` (every policy applied:
``"key";q=600;w=60, "org";q=3000;w=60``) and ``RateLimit`` (the tightest: ``"key";r=599;t=42``).
A 429 carries ``Retry-After``: the seconds until every exceeded bucket has a fresh window.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.errors import error_body
from orgs.context import OrgContext
from orgs.ratelimits import (
    Bucket,
    Spent,
    address_value,
    buckets_for,
    email_bucket_value,
    note,
    noted,
    spend,
    tightest,
)
from usage import counters

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/api/health", "/api/health/ready"})  # probes read nothing
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)


def is_limited_path(path: str) -> bool:
    return path.startswith("/api/") and path not in EXEMPT_PATHS


def _count_usage(context: Any, *, status: int | None = None, request: bool = True) -> None:
    """This request (and its answer's class) in the usage counters (buffered: the next
    round trip carries them)."""
    if isinstance(context, OrgContext):
        key_id = context.credential_id if context.credential == "api_key" else None
        counters.count(org_id=context.org.pk, key_id=key_id, status=status, request=request)


class NestedRateThrottle(BaseThrottle):
    """The principal's bucket and the org's ceiling; a request must fit both."""

    over: list[Spent]

    def allow_request(self, request: Request, view: Any) -> bool:
        if not is_limited_path(request.path) or noted(request) is not None:
            return True
        context = request.auth
        buckets = buckets_for(request, context, scope=getattr(view, "rate_limit_scope", None))
        _count_usage(context)  # first: it rides this request's round trip, if any
        request._request.usage_counted = True  # type: ignore[attr-defined]
        spent = spend(buckets, request=request._request)
        note(request, spent)
        self.over = [s for s in spent if s.exceeded]
        return not self.over

    def wait(self) -> float | None:
        return max(s.seconds_left() for s in self.over)


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_limited_path(request.path):
            return response
        context = getattr(request, "auth", None)  # set by DRF's authentication, if it ran
        spent = noted(request)
        if spent is None:  # answered before the throttle (or it failed): count it now
            if getattr(request, "usage_counted", False):  # (the throttle's spend failed)
                _count_usage(context, status=response.status_code, request=False)
            else:
                _count_usage(context, status=response.status_code)
            spent = spend(buckets_for(request, context), request=request)
            note(request, spent)
            over = [s for s in spent if s.exceeded]
            if over:
                response = too_many_requests(request, over)
        elif isinstance(context, OrgContext) and getattr(request, "usage_counted", False):
            key_id = context.credential_id if context.credential == "api_key" else None
            counters.count_answer(org_id=context.org.pk, key_id=key_id, status=response.status_code)
        set_headers(response, spent)
        return response


def too_many_requests(request: HttpRequest, over: list[Spent]) -> JsonResponse:
    response = JsonResponse(
        error_body(message="Too many requests", code="rate_limited", request=request), status=429
    )
    response["Retry-After"] = str(max(s.seconds_left() for s in over))
    return response


def set_headers(response: HttpResponse, spent: list[Spent]) -> None:
    top = tightest(spent)
    if top is None:
        return
    # Written into the response's header store as ``response[name] = value`` stores them:
    # these names and values are ASCII without line breaks by construction (digits and the
    # policies' names), so Django's per-header charset and newline checks (two a header,
    # five headers) have nothing to find; tests hold the result equal to Django's way.
    store = response.headers._store
    remaining = str(top.remaining)
    store["x-ratelimit-limit"] = ("X-RateLimit-Limit", str(top.limit))
    store["x-ratelimit-remaining"] = ("X-RateLimit-Remaining", remaining)
    store["x-ratelimit-reset"] = ("X-RateLimit-Reset", str(top.reset_at))
    store["ratelimit-policy"] = (
        "RateLimit-Policy",
        _policy_header(tuple([(s.policy, s.limit, s.window) for s in spent])),
    )
    store["ratelimit"] = ("RateLimit", f'"{top.policy}";r={remaining};t={top.seconds_left()}')


@functools.lru_cache(maxsize=1024)
def _policy_header(policies: tuple[tuple[str, int, int], ...]) -> str:
    """``"key";q=600;w=60, "org";q=3000;w=60``: each policy once, the first of its name."""
    first: dict[str, tuple[str, int, int]] = {}
    for policy in policies:
        first.setdefault(policy[0], policy)
    return ", ".join(f'"{name}";q={limit};w={window}' for name, limit, window in first.values())


# --- The Django admin's sign-in form ---------------------------------------------------------


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """``/admin/login/`` with sign-in attempts (POSTs) limited per client address and per
    username (normalised as the user lookup compares emails); then Django's own view."""
    if request.method == "POST":
        username = str(request.POST.get("username", ""))
        address = address_value(request)
        spent = spend(
            [
                Bucket("ip", "admin-login-ip", address, settings.ADMIN_LOGIN_RATE_IP),
                Bucket(
                    "username", "admin-login-username", email_bucket_value(username),
                    settings.ADMIN_LOGIN_RATE_USERNAME,
                ),
            ],
            request=request,
            exact=True,  # sign-in attempts: counted in Redis one by one, whatever the rate
        )  # fmt: skip
        over = [s for s in spent if s.exceeded]
        if over:
            response = HttpResponse(
                "Too many sign-in attempts. Try again later.\n",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(max(s.seconds_left() for s in over))
            return response
    return admin.site.login(request, extra_context)


# --- OpenAPI -------------------------------------------------------------------------------

_HEADER_DOCS = {
    "X-RateLimit-Limit": ("integer", "Requests allowed in the tightest bucket's window"),
    "X-RateLimit-Remaining": ("integer", "Requests left in that window"),
    "X-RateLimit-Reset": ("integer", "When that window ends (Unix epoch seconds)"),
    "RateLimit-Policy": (
        "string",
        'Every limit applied (draft-ietf-httpapi-ratelimit-headers): "key";q=600;w=60, ...',
    ),
    "RateLimit": ("string", 'The tightest bucket: "key";r=<remaining>;t=<seconds to reset>'),
}


def add_rate_limit_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular hook: every limited operation's answers carry the rate-limit headers,
    and its 429 a Retry-After."""
    headers = result.setdefault("components", {}).setdefault("headers", {})
    for name, (kind, description) in _HEADER_DOCS.items():
        headers[name] = {"description": description, "schema": {"type": kind}}
    headers["Retry-After"] = {
        "description": "Seconds until every exceeded limit allows a request again",
        "schema": {"type": "integer"},
    }
    for path, path_item in result.get("paths", {}).items():
        if not is_limited_path(path):
            continue
        for operation in path_item.values():
            for status_code, answer in operation.get("responses", {}).items():
                refs = answer.setdefault("headers", {})
                for name in _HEADER_DOCS:
                    refs[name] = {"$ref": f"#/components/headers/{name}"}
                if status_code == "429":
                    refs["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return result

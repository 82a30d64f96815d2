"""One log line and the metrics of each request: id, route, status, duration, org and actor.
Never the path's values or the query string (tokens travel there), only the route's template."""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from config import metrics

logger = logging.getLogger("tenantry.requests")

Handler = Callable[[HttpRequest], HttpResponse]


class RequestLogMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        match = request.resolver_match
        route = "/" + match.route if match is not None else "(unmatched)"
        metrics.observe(request, response, route, seconds)
        org_id, actor_type, actor_id = actor_of(request)
        logger.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "org_id": org_id,
                "actor_type": actor_type,
                "actor_id": actor_id,
            },
        )
        return response


def actor_of(request: HttpRequest) -> tuple[Any, str, Any]:
    """``(org_id, actor type, actor id)`` of whatever authenticated the request.

    DRF copies its credential onto the Django request (``request.auth``: the OrgContext the
    authentication classes return); a portal page has only the session's user.
    """
    context = getattr(request, "auth", None)
    membership = getattr(context, "membership", None)
    if membership is not None:
        if getattr(context, "credential", "") == "api_key":
            return membership.org_id, "api_key", context.credential_id  # type: ignore[union-attr]
        return membership.org_id, "user", membership.user_id
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None, "user", user.pk
    return None, "anonymous", None

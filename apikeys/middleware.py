import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apikeys.services import api_key_touch

logger = logging.getLogger(__name__)


class KeyUsageMiddleware:
    """Writes a key's last-used time once the response is out, off the critical path.

    APIKeyAuthentication sets ``request.api_key_use`` at most once a minute per key; the
    write is attached as a response closer, which the server calls after sending the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        use = getattr(request, "api_key_use", None)
        if use is not None:
            key_id, ip = use
            # Closers run when the server closes the response, after the body is sent.
            closers = response._resource_closers  # type: ignore[attr-defined]
            closers.append(lambda: _touch(key_id, ip))
        return response


def _touch(key_id: int, ip: str | None) -> None:
    try:
        api_key_touch(key_id=key_id, ip=ip)
    except Exception:  # bookkeeping must never turn a served request into an error
        logger.exception("could not record last use of API key %s", key_id)

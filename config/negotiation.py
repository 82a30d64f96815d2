"""DRF's content negotiation with a shortcut for what nearly every API request sends.

DRF parses the Accept header into media types and matches each against each renderer on
every request (~25 µs). A request that sends no Accept header, ``*/*``, or exactly the
first renderer's media type, and names no format (no query string, no suffix), gets the
first renderer: the answer DRF's own negotiation gives it. Anything else is DRF's.
"""

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        meta = request._request.META  # (not through DRF Request's __getattr__, twice)
        if renderers and not format_suffix and not meta.get("QUERY_STRING"):
            first = renderers[0]
            accept = meta.get("HTTP_ACCEPT", "").strip()
            if accept in ("", "*/*", first.media_type):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

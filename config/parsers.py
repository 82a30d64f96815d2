"""The API's one request parser: JSON, bounded in size and in depth.

DRF's own parser hands the stream to ``json.load``: a body nested a thousand levels deep
exhausts the interpreter's recursion limit (a ``RecursionError``, which DRF does not catch),
and a body read past Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` raises outside the parser.
Both are the client's fault and answer in the error shape (400 and 413).
"""

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

# No request body of the API nests objects or arrays deeper than this; the limit keeps every
# later walk over the data (validation, error rendering) far from the recursion limit.
MAX_JSON_DEPTH = 32


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body too large"
    default_code = "invalid_request"


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError("JSON nested too deeply") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Iterative, so the check itself cannot overflow the stack."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False

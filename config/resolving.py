"""URL resolution that remembers the answer for a fixed path.

Django resolves every request's path from the root of the URLconf: each resolver on the way
matches its prefix, tries its routes in order (collecting the ones tried) and wraps the
match it found in a new ``ResolverMatch``. ``/api/users/me`` passes four resolvers and ten
routes before its own: ~190,000 instructions of the worker's CPU a request, counted with
callgrind (more than the floor's whole view). The answer depends on nothing but the path,
so ``remembered(patterns)`` resolves a path once and keeps the match, for the routes that
capture nothing (a fixed path: ``users/me``, ``api-keys``, never ``api-keys/<int:pk>``).
Those are finite, written in the URLconf, so the memory is bounded by the routes, not by
what clients send; ``LIMIT`` bounds it anyway (a regular expression without groups matches
many paths). A path that resolves to nothing (a 404) or captures arguments is resolved as
Django always does. The ``ResolverMatch`` is shared by the requests of that path: Django
and DRF only read it (its ``kwargs`` are unpacked into the view's call).
"""

from collections.abc import Sequence
from typing import Any

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import ResolverMatch, RoutePattern

LIMIT = 2048


class RememberingResolver(URLResolver):
    """``path("", include(patterns))`` that remembers what a fixed path resolves to."""

    def __init__(self, patterns: Sequence[URLPattern | URLResolver]) -> None:
        super().__init__(RoutePattern("", is_endpoint=False), list(patterns))
        self._remembered: dict[str, ResolverMatch] = {}

    def resolve(self, path: Any) -> ResolverMatch:
        if type(path) is not str:  # (a lazy string: resolved as Django always does)
            return super().resolve(path)
        match = self._remembered.get(path)
        if match is None:
            match = super().resolve(path)
            if not match.args and not match.kwargs and len(self._remembered) < LIMIT:
                self._remembered[path] = match
        return match


def remembered(
    patterns: Sequence[URLPattern | URLResolver],
) -> list[URLPattern | URLResolver]:
    """The URLconf's ``urlpatterns``: ``patterns`` behind one remembering resolver."""
    return [RememberingResolver(patterns)]

"""Every API route in the URLconf, with the HTTP methods its view answers."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    template: str  # "/api/members/{pk}"
    method: str  # "GET"
    view: object
    name: str | None

    def path(self, **values: object) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 999999)), self.template)

    @property
    def view_class(self) -> object:
        callback = self.view
        return getattr(callback, "cls", None) or getattr(callback, "view_class", None)

    @property
    def acts_in_an_org(self) -> bool:
        """A page where a member acts in one org (``orgs.bases.PortalOrgView``)."""
        from orgs.bases import PortalOrgView

        view_class = self.view_class
        return isinstance(view_class, type) and issubclass(view_class, PortalOrgView)

    @property
    def ids(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)

    @property
    def has_id(self) -> bool:
        return "{" in self.template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def api_routes() -> list[Route]:
    routes: list[Route] = []
    _walk(get_resolver().url_patterns, "/", routes)
    return [r for r in routes if r.template.startswith("/api/")]


# Not the portal's pages: the API, the API reference, the Django admin, the JWKS document.
_NOT_PORTAL = ("/api/", "/developers/", "/admin/", "/.well-known/", "/metrics")


def portal_routes() -> list[Route]:
    """Every server-rendered page (and form target) of the portal, found in the URLconf."""
    routes: list[Route] = []
    _walk(get_resolver().url_patterns, "/", routes)
    return [r for r in routes if not r.template.startswith(_NOT_PORTAL)]


def _walk(patterns: list[URLPattern | URLResolver], prefix: str, out: list[Route]) -> None:
    for pattern in patterns:
        if not isinstance(pattern.pattern, RoutePattern):
            continue  # regex patterns: the /api catch-all 404, not a resource
        template = prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            _walk(pattern.url_patterns, template, out)
            continue
        callback = pattern.callback
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        actions = getattr(callback, "actions", None)
        if actions:  # a viewset: only the methods its router mapped
            methods = [m for m in actions if m in _METHODS]
        elif view_class is not None:
            methods = [m for m in _METHODS if hasattr(view_class, m)]
        else:
            methods = ["get"]
        for method in methods:
            out.append(Route(template, method.upper(), callback, pattern.name))

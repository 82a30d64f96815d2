"""Every view in the URLconf derives from one of the named bases of ``orgs.bases`` and
declares what each of its methods requires; a new view that does not fails here."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from orgs.bases import API_BASES, PORTAL_BASES, OrgScopedViewSet
from orgs.permissions import required_action

# Not ours to base: Django's admin site (staff only, its own login); social-auth's OAuth
# begin and complete views (function views its psa decorator wraps; public OAuth callbacks);
# and the catch-all that answers unknown /api/ paths with the error shape.
EXEMPT_PREFIXES = ("/admin/", "/oauth/")
EXEMPT_CALLBACKS = {"config.views.api_not_found"}
_METHODS = ("get", "post", "put", "patch", "delete")


def _views():
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.append((route, pattern.callback))

    walk(get_resolver().url_patterns, "/")
    return found


def _name(callback):
    return f"{callback.__module__}.{callback.__name__}"


def _checked():
    return [
        (route, callback)
        for route, callback in _views()
        if not route.startswith(EXEMPT_PREFIXES) and _name(callback) not in EXEMPT_CALLBACKS
    ]


def _view_class(callback):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def test_the_walk_finds_the_views():
    routes = {route for route, _ in _checked()}
    assert {"/api/health", "/api/users/me", "/api/public/org", "/developers/api"} <= routes


@pytest.mark.parametrize(("route", "callback"), _checked(), ids=lambda v: str(v))
def test_every_view_derives_from_a_named_base(route, callback):
    view_class = _view_class(callback)
    assert view_class is not None, f"{route} is a function view; derive from orgs.bases"
    bases = API_BASES if issubclass(view_class, APIView) else PORTAL_BASES
    assert issubclass(view_class, bases), f"{route}: {view_class.__name__} has no named base"


@pytest.mark.parametrize(("route", "callback"), _checked(), ids=lambda v: str(v))
def test_every_method_declares_what_it_requires(route, callback):
    view_class = _view_class(callback)
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset: the methods its router mapped, each to its viewset action
        pairs = [(method, action) for method, action in actions.items() if method in _METHODS]
    else:
        pairs = [(method, None) for method in _METHODS if hasattr(view_class, method)]
    assert pairs, route
    for method, action in pairs:
        view = SimpleNamespace(required_actions=view_class.required_actions, action=action)
        assert required_action(view, method), f"{method.upper()} {route} requires nothing"


def test_a_viewset_may_not_build_its_own_queryset():
    with pytest.raises(TypeError, match="narrow_queryset"):
        type("Bad", (OrgScopedViewSet,), {"get_queryset": lambda self: None})


def test_permissions_are_added_never_replaced():
    from orgs.bases import OrgView

    with pytest.raises(TypeError, match="extra_permission_classes"):
        type("Bad", (OrgView,), {"permission_classes": []})


def test_an_unknown_action_is_refused_when_the_class_is_built():
    from orgs.bases import OrgView

    with pytest.raises(TypeError, match="unknown action"):
        type("Bad", (OrgView,), {"required_actions": {"get": "api_key:raed"}})


def test_extra_permissions_are_added_to_the_bases():
    from rest_framework.permissions import BasePermission

    from orgs.bases import OrgView
    from orgs.permissions import HasOrgAction

    class Deny(BasePermission):
        pass

    view: Any = type("V", (OrgView,), {"extra_permission_classes": (Deny,)})
    assert view.permission_classes == [HasOrgAction, Deny]

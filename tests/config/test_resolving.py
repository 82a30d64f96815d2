"""The URLconf's remembering resolver (config.resolving) answers what Django's resolution
answers, for every route, remembered or not."""

import pytest
from django.urls import Resolver404, URLResolver, get_resolver, path, re_path
from django.urls.resolvers import RoutePattern

from config import resolving
from config.resolving import RememberingResolver
from tests.routes import api_routes, portal_routes


def _view(request, **kwargs):  # pragma: no cover - never called
    raise AssertionError


def _fresh(patterns):
    """The same patterns resolved as Django resolves them, remembering nothing."""
    return URLResolver(RoutePattern("", is_endpoint=False), list(patterns))


def _same(a, b):
    return (a.func, a.args, a.kwargs, a.url_name, a.route, a.namespaces, a.app_names) == (
        b.func,
        b.args,
        b.kwargs,
        b.url_name,
        b.route,
        b.namespaces,
        b.app_names,
    )


def _top() -> RememberingResolver:
    (top,) = get_resolver().url_patterns
    assert isinstance(top, RememberingResolver)
    return top


def test_the_urlconf_is_behind_one_remembering_resolver():
    assert _top().url_patterns  # every route of config.urls, under it


@pytest.mark.parametrize("route", [*api_routes(), *portal_routes()], ids=str)
def test_every_route_resolves_as_django_resolves_it_twice(route):
    top = _top()
    fresh = _fresh(top.url_patterns)
    url = route.path().lstrip("/")
    expected = fresh.resolve(url)
    first = top.resolve(url)
    second = top.resolve(url)
    assert _same(first, expected)
    assert _same(second, expected)
    # A fixed path is remembered; one that captures a value (an id) never is.
    assert (url in top._remembered) is (not route.has_id)


def test_a_path_that_captures_is_resolved_every_time_and_never_kept():
    resolver = RememberingResolver([path("items/<int:pk>", _view, name="item")])
    for pk in range(3):
        assert resolver.resolve(f"items/{pk}").kwargs == {"pk": pk}
    assert resolver._remembered == {}


def test_an_unknown_path_is_a_404_every_time_and_never_kept():
    resolver = RememberingResolver([path("items", _view)])
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolver.resolve("nothing-here")
    assert resolver._remembered == {}


def test_the_memory_is_bounded_whatever_the_paths(monkeypatch):
    monkeypatch.setattr(resolving, "LIMIT", 3)
    resolver = RememberingResolver([re_path(r"^files/.*$", _view, name="files")])
    for n in range(10):
        assert resolver.resolve(f"files/{n}").url_name == "files"
    assert len(resolver._remembered) == 3


def test_the_api_still_answers_through_it(client):
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/no-such-route").json()["code"] == "not_found"

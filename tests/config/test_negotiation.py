"""config.negotiation's shortcut gives exactly what DRF's own negotiation gives."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.negotiation import ContentNegotiation

RENDERER_LISTS = [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]]


def chosen(negotiation, renderers, path, **headers):
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    except Http404:  # DRF's answer to a format no renderer has
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_LISTS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_ACCEPT": "*/*"},
        {"HTTP_ACCEPT": " application/json "},
        {"HTTP_ACCEPT": "application/json; indent=4"},
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_ACCEPT": "text/html, application/json;q=0.5"},
        {"HTTP_ACCEPT": "image/png"},
    ],
)
@pytest.mark.parametrize("path", ["/api/users/me", "/api/users/me?format=json", "/x?format=api"])
def test_the_shortcut_agrees_with_drf(renderers, headers, path):
    ours = chosen(ContentNegotiation(), renderers, path, **headers)
    assert ours == chosen(DefaultContentNegotiation(), renderers, path, **headers)


def test_an_unacceptable_accept_is_still_406(org, as_member):
    response = as_member(org).get("/api/users/me", HTTP_ACCEPT="text/html")
    assert response.status_code == 406

"""The harness itself: Chromium reaches the live server under the mapped host names."""

import json

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase

pytestmark = pytest.mark.browser


def test_health_renders_in_chromium_on_the_api_host(page, portal_url):
    response = page.goto(portal_url("api", "/api/health"))
    assert response is not None
    assert response.status == 200
    assert json.loads(page.inner_text("body")) == {"status": "ok"}
    assert page.url.startswith("http://api.tenantry.test:")


def test_every_subdomain_reaches_the_same_server(page, portal_url):
    for host in ("portal", "acme"):
        response = page.goto(portal_url(host, "/api/health"))
        assert response is not None
        assert response.status == 200


def test_signed_in_sets_a_domain_cookie_for_a_stored_session(context, signed_in, owner, org):
    from importlib import import_module

    key = signed_in(context, owner, org)
    cookies = {c["name"]: c for c in context.cookies("http://api.tenantry.test/")}
    assert cookies[settings.SESSION_COOKIE_NAME]["value"] == key
    assert cookies[settings.SESSION_COOKIE_NAME]["domain"] == ".tenantry.test"
    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    assert store[SESSION_KEY] == str(owner.pk)

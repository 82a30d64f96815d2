"""The client address rate limits and audit rows key on: REMOTE_ADDR unless the operator
says how many proxies in front of us append to X-Forwarded-For."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.test import APIClient

from audit.actors import client_ip

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def _ip(settings, hops, forwarded, remote="10.0.0.1"):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    return client_ip(request)


def test_without_trusted_proxies_forwarded_for_means_nothing(settings):
    assert _ip(settings, 0, "203.0.113.9") == "10.0.0.1"


def test_behind_one_proxy_the_rightmost_entry_is_the_client(settings):
    assert _ip(settings, 1, "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert _ip(settings, 2, "1.2.3.4, 203.0.113.9, 10.0.0.7") == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded", ["not-an-ip", "1.2.3.4, <script>", "1.2.3.4, 999.1.1.1", "unknown", " , "]
)
def test_an_entry_that_is_not_an_address_is_ignored(settings, forwarded):
    assert _ip(settings, 1, forwarded) == "10.0.0.1"


def test_ipv6_entries_are_addresses(settings):
    assert _ip(settings, 1, "2001:db8::7") == "2001:db8::7"


def test_no_remote_address_at_all_is_none(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = ""
    assert client_ip(request) is None


@pytest.mark.parametrize("forwarded", ["garbage", "1.2.3.4, not an ip", "::::"])
def test_garbage_forwarded_for_is_never_a_500_on_login_or_leak_reports(settings, org, forwarded):
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient(HTTP_X_FORWARDED_FOR=forwarded)
    login = client.post(
        "/api/auth/login",
        {"email": "x@example.test", "password": "nope", "org_slug": org.slug},
        format="json",
    )
    leak = client.post("/api/public/leaked-keys", [{"token": "nothing"}], format="json")
    assert (login.status_code, leak.status_code) == (401, 202)


def test_no_remote_address_is_never_a_500(settings, org):
    settings.TRUSTED_PROXY_COUNT = 0
    response = APIClient(REMOTE_ADDR="").post(
        "/api/auth/login",
        {"email": "x@example.test", "password": "nope", "org_slug": org.slug},
        format="json",
    )
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_uvicorn_as_documented_does_not_believe_forwarded_for_from_localhost(org):
    """uvicorn's default (--proxy-headers, --forwarded-allow-ips=127.0.0.1) would rewrite the
    peer address from X-Forwarded-For for any local connection, and each spoofed address
    would get a fresh bucket. With TRUSTED_PROXY_COUNT=0 the second address shares the first's."""
    import httpx

    from tests.harness.asgi import ASGIServer, database_env

    env = {**database_env(), "SECURE_SSL_REDIRECT": "false", "LOGIN_RATE": "1/d"}
    server = ASGIServer(env).start()
    try:
        statuses = [
            httpx.post(
                f"{server.url}/api/auth/login",
                json={"email": f"peer{n}@example.test", "password": "no", "org_slug": org.slug},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
                timeout=10,
            ).status_code
            for n in (1, 2)
        ]
    finally:
        server.stop()
    assert statuses == [401, 429]

"""Security headers, one test per kind of page: API answers (success, error, early refusal),
the public OpenAPI document, the Swagger UI page, the admin, other HTML, and HSTS under the
production settings."""

import os
import re
import subprocess
import sys

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.config.test_deploy import PRODUCTION

pytestmark = pytest.mark.django_db

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def csp_of(response):
    header = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1:]
        for part in header.split(";")
        if part.strip()
    }, header


def assert_common(response, *, no_store):
    for name, value in ALWAYS.items():
        assert response.get(name) == value, (name, response.get(name))
    directives, header = csp_of(response)
    assert directives["frame-ancestors"] == ["'none'"], header
    assert "unsafe-inline" not in header, header
    assert "unsafe-eval" not in header, header
    if no_store:
        assert response["Cache-Control"] == "no-store"
    else:
        assert "no-store" not in response.get("Cache-Control", "")


def test_an_authenticated_api_answer(org, as_member):
    response = as_member(org, role="owner").get("/api/users/me")
    assert response.status_code == 200
    assert_common(response, no_store=True)


def test_an_api_error_answer():
    response = APIClient().get("/api/users/me")
    assert response.status_code == 401
    assert_common(response, no_store=True)


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": "x" * 3_000_000, "content_type": "application/json"},  # 413, before any view
        {"HTTP_AUTHORIZATION": "Bearer a", "HTTP_X_API_KEY": "b"},  # 401, ambiguous
    ],
)
def test_an_early_refusal_carries_them_too(request_kwargs):
    response = APIClient().generic("POST", "/api/auth/login", **request_kwargs)
    assert response.status_code in (401, 413)
    assert_common(response, no_store=True)


def test_the_public_openapi_document_may_be_cached():
    response = APIClient().get("/api/docs.json")
    assert response.status_code == 200
    assert_common(response, no_store=False)


def test_the_swagger_ui_page_runs_on_nonces_only():
    client = Client()
    response = client.get("/developers/api")
    assert response.status_code == 200
    assert_common(response, no_store=False)
    directives, _ = csp_of(response)
    found = re.search(r"'nonce-([^']+)'", " ".join(directives["script-src"]))
    assert found is not None
    nonce = found.group(1)
    page = response.content.decode()
    # Every script and style element carries this response's nonce; no inline script.
    assert page.count("<script") == page.count(f'nonce="{nonce}"') - 1 == 3
    assert re.search(r"<script[^>]*>\s*[^<\s]", page) is None, "inline script"
    script = re.search(r'<script src="([^"]+\?[^"]*script=[^"]*)"', page)
    assert script is not None
    init = client.get(script.group(1).replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")


def test_the_admin_is_never_cached():
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert_common(response, no_store=True)


def test_a_page_for_a_signed_in_person_is_never_cached(org, owner):
    client = Client()
    client.force_login(owner)
    response = client.get("/developers/api")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_other_html_carries_the_policy():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert_common(response, no_store=False)


def test_hsts_is_sent_over_https_in_production():
    code = (
        "from django.test import Client; "
        "r = Client().get('/api/health', secure=True, HTTP_HOST='api.tenantry.test'); "
        "print(r.status_code, r.get('Strict-Transport-Security'))"
    )
    env = {
        **os.environ,
        **PRODUCTION,
        "ALLOWED_HOSTS": "api.tenantry.test",
        "BASE_DOMAIN": "tenantry.test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert last == "200 max-age=31536000; includeSubDomains", result.stdout + result.stderr


def test_an_api_answer_carries_the_policy_django_csp_builds(org, as_member, settings):
    """The policy of a response without a nonce or its own policy is built once per
    process (config.middleware.CSPMiddleware): the same string django-csp builds, and
    rebuilt when the settings change."""
    from csp.utils import build_policy

    client = as_member(org)
    assert client.get("/api/users/me")["Content-Security-Policy"] == build_policy()
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/api/users/me")["Content-Security-Policy"] == "default-src 'none'"
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    response = client.get("/api/users/me")
    assert response["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    assert "img-src 'self'" in response["Content-Security-Policy-Report-Only"]
    settings.CONTENT_SECURITY_POLICY = {
        "EXCLUDE_URL_PREFIXES": ["/api/users/"],
        "DIRECTIVES": {"default-src": ["'none'"]},
    }
    assert "Content-Security-Policy" not in client.get("/api/users/me")


def test_after_the_policy_is_written_a_nonce_is_an_error_and_own_policies_keep_theirs(rf):
    """CSPMiddleware's built-once path: a nonce asked for after the header is written raises
    as django-csp's does (one lazy object serves every response); a response that names its
    own policy still goes through django-csp."""
    from csp.exceptions import CSPNonceError
    from csp.utils import build_policy
    from django.http import HttpResponse

    from config.middleware import CSPMiddleware

    request = rf.get("/api/users/me")
    middleware = CSPMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    response = middleware.process_response(request, HttpResponse())
    assert response["Content-Security-Policy"] == build_policy()
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
    other = rf.get("/api/users/me")  # the next request's too
    middleware.process_request(other)
    middleware.process_response(other, HttpResponse())
    with pytest.raises(CSPNonceError):
        str(other.csp_nonce)
    own = HttpResponse()
    own._csp_replace = {"form-action": ["https://accounts.google.com"]}  # type: ignore[attr-defined]
    request = rf.get("/signin")
    middleware.process_request(request)
    answer = middleware.process_response(request, own)
    assert "form-action https://accounts.google.com" in answer["Content-Security-Policy"]

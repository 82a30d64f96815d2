import pytest
from django.test import RequestFactory

from accounts.redirects import safe_next

REFUSED = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "https://evil.example/",
    "https://portal.tenantry.test.evil.example/",
    "https://evil.example?.tenantry.test",
    "https://evil.example#.tenantry.test",
    "https://portal.tenantry.test@evil.example/",
    "https://eviltenantry.test/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\\evil.example",
    "\\\\evil.example",
    "https:\\\\evil.example",
    "/\tevil.example",
    "http://portal.tenantry.test/",  # a downgrade from https
    "",
    None,
]

ALLOWED = [
    "/account/",
    "/settings/api-keys/?page=2",
    "https://portal.tenantry.test/account/",
    "https://acme.tenantry.test/settings/members/",
    "https://api.tenantry.test/api/users/me",
]


@pytest.fixture
def request_(settings):
    settings.BASE_DOMAIN = "tenantry.test"
    settings.ALLOWED_HOSTS = [".tenantry.test"]
    return RequestFactory().get("/login/", HTTP_HOST="portal.tenantry.test", secure=True)


@pytest.mark.parametrize("url", REFUSED)
def test_foreign_or_tricky_next_is_replaced_by_home(url, request_):
    assert safe_next(url, request_) == "/"


@pytest.mark.parametrize("url", ALLOWED)
def test_own_hosts_and_paths_are_kept(url, request_):
    assert safe_next(url, request_) == url

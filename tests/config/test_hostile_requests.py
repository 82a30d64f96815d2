"""What a hostile or careless client sends, answered in the error shape and never a 500.

Each test here reproduces a defect a review or a fuzz run found.
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PUBLIC_BODY_ROUTES = [
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/invitations/accept",
    "/api/public/leaked-keys",
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters, before and after: later modules count from zero
    yield
    cache.clear()


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "details", "request_id"}
    assert body["code"] == code
    return body


@pytest.mark.parametrize("path", PUBLIC_BODY_ROUTES)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_1000_deep_is_400_not_500(path, opener):
    closer = "]" if opener == "[" else "}"
    body = opener * 1000 + "1" + closer * 1000
    response = APIClient().post(path, data=body, content_type="application/json")
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("path", PUBLIC_BODY_ROUTES)
def test_body_over_2_5_mb_is_413_in_the_error_shape(path):
    body = '{"token": "' + "x" * (2_621_440 + 10) + '"}'
    response = APIClient().post(path, data=body, content_type="application/json")
    assert_error(response, 413, "invalid_request")


def test_body_over_the_limit_is_413_on_an_authenticated_route(as_member, org):
    client = as_member(org, role="owner")
    body = '{"name": "' + "x" * 3_000_000 + '"}'
    response = client.post("/api/api-keys", data=body, content_type="application/json")
    assert_error(response, 413, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/api-keys/abc"),
        ("post", "/api/nope"),
        ("put", "/api/nope/deeper"),
        ("patch", "/api/members/not-a-number"),
    ],
)
def test_unsafe_method_to_an_unmatched_api_path_is_a_json_404(method, path):
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, data="{}", content_type="application/json")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/invitations/1"),
        ("patch", "/api/invitations/1"),
        ("options", "/api/invitations/1"),
        ("trace", "/api/invitations/1"),
        ("put", "/api/api-keys/1"),
        ("put", "/api/members/1"),
        ("post", "/api/members"),
        ("put", "/api/org"),
        ("delete", "/api/org"),
        ("trace", "/api/users/me"),
        ("put", "/api/webhooks/1"),
        ("options", "/api/audit-events"),
    ],
)
def test_unsupported_method_is_405_for_an_authorized_caller(as_member, org, method, path):
    client = as_member(org, role="owner")
    response = client.generic(method.upper(), path)
    assert_error(response, 405, "method_not_allowed")
    assert "Allow" in response


def test_unsupported_method_is_405_before_the_credential_is_read():
    response = APIClient().generic("PUT", "/api/invitations/1")
    assert response.status_code in (401, 405)  # either is honest; never 403 or 500
    assert response.status_code != 403


def test_public_user_id_past_bigint_is_404(org):
    creator = MembershipFactory.create(org=org, role="admin")
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=creator, name="k")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    assert_error(client.get("/api/public/users/9223372036854775808"), 404, "not_found")
    assert_error(client.get("/api/public/users/99999999999999999999999"), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    ["/api/members/9223372036854775808", "/api/api-keys/9223372036854775808"],
)
def test_other_id_routes_past_bigint_are_404(as_member, org, path):
    client = as_member(org, role="owner")
    assert_error(client.get(path), 404, "not_found")


def test_swagger_ui_has_its_online_validator_off(client):
    page = client.get("/developers/api")
    assert page.status_code == 200
    script = client.get("/developers/api?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in script.content.decode()


@pytest.fixture
def jwt_and_key(org, sign_in):
    membership = MembershipFactory.create(org=org, role="admin")
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=membership, name="k")
    return sign_in(membership).access_token, raw


@pytest.mark.parametrize(
    "headers",
    [
        lambda jwt, key: {"HTTP_AUTHORIZATION": "Bearer garbage", "HTTP_X_API_KEY": key},
        lambda jwt, key: {"HTTP_AUTHORIZATION": f"Bearer {jwt}", "HTTP_X_API_KEY": "junk"},
        lambda jwt, key: {"HTTP_AUTHORIZATION": f"Bearer {jwt}", "HTTP_X_API_KEY": key},
        lambda jwt, key: {"HTTP_AUTHORIZATION": "garbage", "HTTP_X_API_KEY": key},
    ],
)
@pytest.mark.parametrize("path", ["/api/users/me", "/api/public/org"])
def test_two_different_credentials_are_401(jwt_and_key, headers, path):
    response = APIClient().get(path, **headers(*jwt_and_key))
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scheme", ["Bearer ", ""])
def test_the_same_key_in_both_headers_is_one_credential(jwt_and_key, scheme):
    _, key = jwt_and_key
    response = APIClient().get(
        "/api/users/me", HTTP_AUTHORIZATION=f"{scheme}{key}", HTTP_X_API_KEY=key
    )
    assert response.status_code == 200, response.content

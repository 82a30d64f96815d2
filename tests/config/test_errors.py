"""Every status the API can answer has the documented error shape."""

import json
import logging
import re

import pytest
from django.core.cache import cache

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.probe_urls")]

REQUEST_ID = re.compile(r"^req_[0-9a-f]{24}$")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "code", "details", "request_id"}
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_malformed_json_is_400_invalid_request(api):
    response = api.post("/api/probe/validate", data="{not json", content_type="application/json")
    assert_error(response, 400, "invalid_request")


def test_missing_credentials_is_401_unauthorized_with_challenge(api):
    response = api.get("/api/probe/needs-auth")
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_credentials_is_401_unauthorized(api):
    response = api.get("/api/probe/needs-auth", HTTP_AUTHORIZATION="Bearer junk")
    assert_error(response, 401, "unauthorized")


def test_expired_credentials_is_401_expired(api):
    response = api.get("/api/probe/needs-auth", HTTP_AUTHORIZATION="Bearer expired")
    assert_error(response, 401, "expired")


def test_permission_denied_is_403_forbidden(api):
    assert_error(api.get("/api/probe/forbidden"), 403, "forbidden")


def test_refined_403_code_passes_through(api):
    assert_error(api.get("/api/probe/forbidden?jwt=1"), 403, "jwt_disabled")


def test_unknown_api_path_is_404_not_found(api):
    assert_error(api.get("/api/no/such/thing"), 404, "not_found")


def test_does_not_exist_escaping_a_service_is_404_not_found(api):
    assert_error(api.get("/api/probe/missing"), 404, "not_found")


def test_csrf_failure_under_api_is_in_the_error_shape(rf):
    from config.views import csrf_failure

    request = rf.post("/api/anything")
    response = csrf_failure(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "forbidden"


def test_wrong_method_is_405(api):
    response = api.delete("/api/health")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_unsupported_media_type_is_415_invalid_request(api):
    response = api.post("/api/probe/validate", data="a=b", content_type="text/plain")
    assert_error(response, 415, "invalid_request")


def test_validation_error_is_422_with_field_and_form_errors(api):
    response = api.post("/api/probe/validate", {"email": "nope", "count": 0}, format="json")
    body = assert_error(response, 422, "validation_error")
    assert body["details"]["fieldErrors"] == {
        "email": ["Enter a valid email address."],
        "count": ["Ensure this value is greater than or equal to 1."],
    }
    assert body["details"]["formErrors"] == []


def test_non_field_validation_error_lands_in_form_errors(api):
    response = api.post("/api/probe/validate", {"email": "a@b.test", "count": 11}, format="json")
    body = assert_error(response, 422, "validation_error")
    assert body["details"] == {"fieldErrors": {}, "formErrors": ["Too many things"]}


def test_rate_limit_is_429_rate_limited(api):
    cache.clear()
    assert api.get("/api/probe/limited").status_code == 200
    assert api.get("/api/probe/limited").status_code == 200
    assert_error(api.get("/api/probe/limited"), 429, "rate_limited")


def test_crash_in_api_view_is_500_without_traceback_and_logged_with_request_id(api, caplog):
    api.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="tenantry.errors"):
        response = api.get("/api/probe/crash", HTTP_X_REQUEST_ID="req_crash_1")
    body = assert_error(response, 500, "internal_error")
    assert body["request_id"] == "req_crash_1"
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    records = [r for r in caplog.records if r.name == "tenantry.errors"]
    assert records
    assert records[0].request_id == "req_crash_1"
    assert records[0].exc_info is not None


def test_crash_in_plain_django_view_is_500_in_the_error_shape(client):
    client.raise_request_exception = False
    response = client.get("/api/probe/plain-crash")
    assert_error(response, 500, "internal_error")
    assert "blew up" not in response.content.decode()


def test_generated_request_id_has_req_prefix(api):
    response = api.get("/api/health")
    assert REQUEST_ID.match(response["X-Request-ID"])


def test_callers_request_id_is_echoed(api):
    response = api.get("/api/health", HTTP_X_REQUEST_ID="trace-abc.123")
    assert response["X-Request-ID"] == "trace-abc.123"


def test_unsafe_request_id_is_replaced(api):
    response = api.get("/api/health", HTTP_X_REQUEST_ID="evil\nSet-Cookie: x=1")
    assert REQUEST_ID.match(response["X-Request-ID"])


def test_health(api):
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"

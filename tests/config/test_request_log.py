"""One structured line per request, with who made it and how it ended, and no secret."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor
from config.logging import JsonFormatter, RequestIdFilter
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


class JsonLines(logging.Handler):
    """The production handler's output (request-id filter + JSON formatter), kept in memory."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def request_log():
    handler = JsonLines()
    logger = logging.getLogger("tenantry.requests")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_jwt_request_logs_route_status_duration_org_and_user(org, as_member, request_log):
    client = as_member(org)
    client.get("/api/users/me", HTTP_X_REQUEST_ID="req-log-1")
    (text,) = request_log
    line = json.loads(text)
    assert line["route"] == "/api/users/me"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert (line["org_id"], line["actor_type"], line["actor_id"]) == (
        org.pk, "user", client.membership.user_id,
    )  # fmt: skip


def test_an_api_key_request_logs_the_key_as_actor_and_never_the_key(org, request_log):
    creator = MembershipFactory.create(org=org, role="admin")
    key, raw = api_key_create(org=org, actor=Actor.system(), creator=creator, name="ci")
    APIClient().get(f"/api/api-keys/{key.pk}?token={raw}", HTTP_X_API_KEY=raw)
    (text,) = request_log
    line = json.loads(text)
    assert line["route"] == "/api/api-keys/<int:pk>"  # the template, not the id or query
    assert (line["actor_type"], line["actor_id"], line["org_id"]) == ("api_key", key.pk, org.pk)
    assert raw not in json.dumps(line)


def test_an_anonymous_refusal_is_logged_as_anonymous(request_log):
    APIClient().get("/api/users/me", HTTP_AUTHORIZATION="Bearer eyJhbGciOi.junk.junk")
    (text,) = request_log
    line = json.loads(text)
    assert (line["status"], line["actor_type"], line["org_id"]) == (401, "anonymous", None)
    assert "junk" not in json.dumps(line)


def test_each_line_is_one_json_object_with_the_request_id(request_log, api):
    api.get("/api/health", HTTP_X_REQUEST_ID="req-trace-7")
    (text,) = request_log
    assert "\n" not in text
    line = json.loads(text)
    assert line["request_id"] == "req-trace-7"
    assert (line["level"], line["logger"], line["message"]) == (
        "INFO", "tenantry.requests", "GET /api/health 200",
    )  # fmt: skip

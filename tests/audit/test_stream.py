"""GET /api/events/stream, for real: the ASGI app under uvicorn, an httpx client reading the
stream, and events written while it listens. Every wait is bounded: httpx's read timeout
bounds each line, and the keep-alive comments (every 0.5 s here) let a deadline be checked
between events."""

import json
import time
from contextlib import contextmanager

import httpx
import pytest

from apikeys.services import api_key_create, api_key_revoke
from audit.actors import Actor
from audit.models import OutboxEvent
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from orgs.services import membership_set_role
from tests.audit.helpers import emit

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = "/api/events/stream"
TIMEOUT = httpx.Timeout(5.0)


class EventReader:
    """Parses text/event-stream lines into events ({"id", "event", "data"})."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()
        self.comments = 0
        self.retry: str | None = None

    def next_event(self, timeout: float = 10.0) -> dict | None:
        """The next event, or None if the server ended the stream."""
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        for line in self.lines:
            if time.monotonic() > deadline:
                raise AssertionError(f"no event within {timeout} s")
            if line.startswith(":"):
                self.comments += 1
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                if name == "retry":
                    self.retry = fields.pop(name)
            elif "data" in fields:
                return fields
        return None

    def wait_until_open(self, timeout: float = 10.0) -> None:
        """Until the server's first line (its retry advice): the stream's position is set."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if line.startswith("retry:"):
                self.retry = line.partition(":")[2].strip()
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError("the stream did not open")

    def wait_for_comment(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if line.startswith(":"):
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError("no keep-alive comment")

    def until_end(self, timeout: float = 10.0) -> list[dict]:
        """The events the server sends before it ends the stream."""
        deadline = time.monotonic() + timeout
        events = []
        while (event := self.next_event(max(deadline - time.monotonic(), 0.0))) is not None:
            events.append(event)
        return events


def _bearer(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.pair.access_token}"}


@contextmanager
def _stream(server, headers):
    with (
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
        http.stream("GET", STREAM, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        reader = EventReader(response)
        reader.wait_until_open()
        yield reader, http, response


def _public_id(audit_event):
    return OutboxEvent.dangerously_unscoped.get(audit_event=audit_event).public_id


@pytest.fixture
def admin(org, as_member):
    return as_member(org, role="admin")


def test_an_event_written_after_connecting_arrives(asgi_server, org, admin):
    with _stream(asgi_server, _bearer(admin)) as (events, http, response):
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-store"
        patched = http.patch("/api/org", json={"name": "Renamed"}, headers=_bearer(admin))
        assert patched.status_code == 200, patched.text
        event = events.next_event()

    assert event is not None
    outbox = OutboxEvent.dangerously_unscoped.get(type="org.updated")
    assert event["id"] == outbox.public_id
    assert event["event"] == "org.updated"
    payload = json.loads(event["data"])
    assert payload == outbox.payload
    assert payload["data"]["org_id"] == org.pk
    assert payload["data"]["metadata"]["after"] == {"name": "Renamed"}
    assert payload["data"]["context"]["request_id"] == patched.headers["X-Request-ID"]
    assert events.retry == "3000"


def test_events_before_connecting_are_not_sent_and_later_ones_come_in_order(
    asgi_server, org, admin
):
    emit(org, ORG_UPDATED)  # history: the stream starts from now
    with _stream(asgi_server, _bearer(admin)) as (events, _, _):
        later = [emit(org, ORG_UPDATED), emit(org, MEMBER_ADDED), emit(org, ORG_UPDATED)]
        received = [events.next_event() for _ in later]
    assert [e["id"] for e in received] == [_public_id(a) for a in later]
    assert [e["event"] for e in received] == ["org.updated", "member.added", "org.updated"]


def test_resuming_with_last_event_id_replays_what_came_after_it(asgi_server, org, admin):
    first, second, third = (emit(org, ORG_UPDATED, n=n) for n in range(3))
    headers = {**_bearer(admin), "Last-Event-ID": _public_id(first)}
    with _stream(asgi_server, headers) as (events, _, _):
        replayed = [events.next_event()["id"] for _ in range(2)]
        live = emit(org, MEMBER_ADDED)
        after = events.next_event()
    assert replayed == [_public_id(second), _public_id(third)]
    assert after["id"] == _public_id(live)


@pytest.mark.parametrize(
    "last_event_id",
    ["evt_" + "f" * 32, "not-an-event-id", ""],
    ids=["unknown", "malformed", "empty"],
)
def test_an_unknown_last_event_id_resumes_from_now(asgi_server, org, admin, last_event_id):
    emit(org, ORG_UPDATED)
    with _stream(asgi_server, {**_bearer(admin), "Last-Event-ID": last_event_id}) as (
        events,
        _,
        _,
    ):
        new = emit(org, MEMBER_ADDED)
        assert events.next_event()["id"] == _public_id(new)


def test_another_orgs_events_are_never_sent(asgi_server, org, other_org, admin):
    theirs = emit(other_org, ORG_UPDATED)
    with _stream(asgi_server, {**_bearer(admin), "Last-Event-ID": _public_id(theirs)}) as (
        events,
        _,
        _,
    ):
        emit(other_org, ORG_UPDATED)
        ours = emit(org, ORG_UPDATED)
        assert events.next_event()["id"] == _public_id(ours)


def test_keep_alive_comments_flow_while_nothing_happens(asgi_server, admin):
    with _stream(asgi_server, _bearer(admin)) as (events, _, _):
        events.wait_for_comment()
        events.wait_for_comment()


def test_an_api_key_opens_a_stream_too(asgi_server, org, admin):
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=admin.membership, name="sse")
    with _stream(asgi_server, {"X-API-Key": raw}) as (events, _, _):
        new = emit(org, ORG_UPDATED)
        assert events.next_event()["id"] == _public_id(new)


def test_the_stream_ends_when_the_member_loses_audit_read(asgi_server, org, admin):
    with _stream(asgi_server, _bearer(admin)) as (events, _, _):
        membership_set_role(
            org=org, actor=Actor.system(), membership=admin.membership, role="member", by=None
        )
        # Whatever the last polls carry (the role change itself), then the end.
        assert {e["event"] for e in events.until_end()} <= {"member.role_changed"}
    again = httpx.get(f"{asgi_server.url}{STREAM}", headers=_bearer(admin), timeout=TIMEOUT)
    assert again.status_code == 403
    assert again.json()["code"] == "forbidden"


def test_the_stream_ends_when_its_api_key_is_revoked(asgi_server, org, admin):
    key, raw = api_key_create(org=org, actor=Actor.system(), creator=admin.membership, name="k")
    with _stream(asgi_server, {"X-API-Key": raw}) as (events, _, _):
        api_key_revoke(org=org, actor=Actor.system(), key=key)
        assert {e["event"] for e in events.until_end()} <= {"api_key.revoked"}


def test_without_credentials_the_answer_is_a_prompt_401_in_the_error_shape(asgi_server):
    response = httpx.get(f"{asgi_server.url}{STREAM}", timeout=TIMEOUT)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert set(body) == {"error", "code", "details", "request_id"}
    assert response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("role", ["developer", "member", "viewer"])
def test_roles_without_audit_read_are_refused(asgi_server, org, as_member, role):
    response = httpx.get(
        f"{asgi_server.url}{STREAM}", headers=_bearer(as_member(org, role=role)), timeout=TIMEOUT
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_idle_streams_hold_no_database_connection(asgi_server, org, admin):
    """The server's pool has 2 connections (tests/audit/conftest.py); four open streams
    still leave room for ordinary requests and for each other's polls."""
    with httpx.Client(base_url=asgi_server.url, timeout=TIMEOUT) as http:
        streams, readers = [], []
        try:
            for _ in range(4):
                response = http.send(
                    http.build_request("GET", STREAM, headers=_bearer(admin)), stream=True
                )
                streams.append(response)
                assert response.status_code == 200
                readers.append(EventReader(response))
                readers[-1].wait_until_open()
            patched = http.patch("/api/org", json={"name": "Busy"}, headers=_bearer(admin))
            assert patched.status_code == 200
            for reader in readers:
                event = reader.next_event()
                assert event is not None
                assert event["event"] == "org.updated"
        finally:
            for response in streams:
                response.close()


def test_an_export_streams_page_by_page_under_asgi(asgi_server, org, admin):
    for n in range(150):
        emit(org, ORG_UPDATED, n=n)
    with (
        httpx.Client(base_url=asgi_server.url, timeout=TIMEOUT) as http,
        http.stream(
            "GET", "/api/audit-events/export?format=csv&action=org.updated", headers=_bearer(admin)
        ) as response,
    ):
        assert response.status_code == 200
        chunks = list(response.iter_text())
    rows = "".join(chunks).splitlines()
    assert rows[0].startswith("id,occurred_at,action")
    assert len(rows) == 151
    # Django warns when it has to read a synchronous iterator whole before sending it.
    assert "must consume synchronous iterators" not in asgi_server.log()


@pytest.mark.django_db
def test_under_wsgi_the_same_stream_is_a_plain_generator(org, admin, settings):
    """`runserver` is WSGI, where Django would read an async body to its end (never)."""
    settings.EVENT_STREAM_POLL_SECONDS = 0.01
    settings.EVENT_STREAM_KEEPALIVE_SECONDS = 0.05
    response = admin.get(STREAM)  # Django's test client is WSGI
    assert response.status_code == 200
    assert not response.is_async
    chunks = iter(response.streaming_content)
    try:
        assert next(chunks) == b"retry: 3000\n\n"
        new = emit(org, ORG_UPDATED)
        received, deadline = b"", time.monotonic() + 5
        while f"id: {_public_id(new)}\n".encode() not in received:
            assert time.monotonic() < deadline, received
            received += next(chunks)  # keep-alives every 0.05 s: never blocks for long
    finally:
        response.close()

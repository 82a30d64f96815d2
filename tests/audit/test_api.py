"""GET /api/audit-events and its export: roles, tenancy, filters, cursor paging, formats."""

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from apikeys.services import api_key_create, api_key_revoke
from audit.actors import Actor
from audit.models import AuditEvent
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from tests.apikeys.conftest import with_key
from tests.audit.helpers import Target, record_at

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)
ADMIN_ACTOR = Actor(type="user", id="999999", label="someone-else@example.test")


def _list(client, **params):
    response = client.get(f"/api/audit-events?{urlencode(params)}")
    assert response.status_code == 200, response.content
    return response.json()


def _walk(client, cursor=None, **params):
    """Every event from ``cursor`` on, following next_cursor; and how many pages it took."""
    seen, pages = [], 0
    while True:
        body = _list(client, **params, **({"cursor": cursor} if cursor else {}))
        seen.extend(body["data"])
        pages += 1
        if not body["pagination"]["has_next"]:
            assert body["pagination"]["next_cursor"] is None
            return seen, pages
        cursor = body["pagination"]["next_cursor"]


def _export(client, fmt, **params):
    response = client.get(f"/api/audit-events/export?{urlencode({'format': fmt, **params})}")
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, b"".join(response.streaming_content).decode()


@pytest.fixture
def admin(org, as_member):
    return as_member(org, role="admin")


# --- The event's shape and who may read it -------------------------------------------


def test_an_event_reads_with_actor_target_context_and_metadata(org, admin):
    response = admin.patch(
        "/api/org", {"name": "Renamed"}, format="json", HTTP_USER_AGENT="curl/8.5"
    )
    assert response.status_code == 200

    [event] = _list(admin, action="org.updated")["data"]

    user = admin.membership.user
    stored = AuditEvent.dangerously_unscoped.get(action="org.updated")
    assert event == {
        "id": stored.pk,
        "occurred_at": event["occurred_at"],
        "action": "org.updated",
        "actor": {"type": "user", "id": str(user.pk), "label": user.email},
        "target": {"type": "orgs.organization", "id": str(org.pk), "label": str(org)},
        "context": {
            "ip": "127.0.0.1",
            "user_agent": "curl/8.5",
            "request_id": response["X-Request-ID"],
        },
        "metadata": stored.metadata,
    }
    assert event["metadata"]["after"] == {"name": "Renamed"}


@pytest.mark.parametrize("role", ["member", "viewer"])
@pytest.mark.parametrize("path", ["/api/audit-events", "/api/audit-events/export?format=csv"])
def test_roles_without_audit_actions_are_forbidden(org, as_member, role, path):
    client = as_member(org, role=role)
    before = AuditEvent.dangerously_unscoped.count()
    response = client.get(path)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert (
        AuditEvent.dangerously_unscoped.count() == before
    )  # a refused export leaves no trace of one


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_read_the_whole_log(org, as_member, role):
    record_at(T0, org_id=org.pk, actor=ADMIN_ACTOR)
    record_at(T0, org_id=org.pk, actor=Actor.system())
    assert len(_list(as_member(org, role=role), action="org.updated")["data"]) == 2


@pytest.fixture
def developer_world(org, as_member):
    """A developer, a colleague, and a key of each; events by each and on each key."""
    developer = as_member(org, role="developer")
    colleague = as_member(org, role="developer")
    system = Actor.system()
    dev_key, _ = api_key_create(org=org, actor=system, creator=developer.membership, name="dev key")
    other_key, _ = api_key_create(
        org=org, actor=system, creator=colleague.membership, name="their key"
    )
    # Someone else acting on the developer's key, and on the colleague's.
    api_key_revoke(org=org, actor=ADMIN_ACTOR, key=dev_key)
    api_key_revoke(org=org, actor=ADMIN_ACTOR, key=other_key)
    dev_actor = Actor.for_user(developer.membership.user)
    record_at(T0, org_id=org.pk, actor=dev_actor, action=ORG_UPDATED)
    record_at(T0, org_id=org.pk, actor=Actor.for_user(colleague.membership.user))
    return developer, dev_key, other_key


def _summary(events):
    return sorted((e["action"], e["actor"]["label"], e["target"]["label"]) for e in events)


def test_a_developer_reads_their_own_doing_and_what_happened_to_their_keys(developer_world):
    developer, dev_key, _ = developer_world
    email = developer.membership.user.email

    events = _list(developer)["data"]

    assert _summary(events) == sorted(
        [
            ("auth.login", email, email),  # signing in is their own doing too
            ("api_key.created", "system", str(dev_key)),
            ("api_key.revoked", ADMIN_ACTOR.label, str(dev_key)),
            ("org.updated", email, ""),
        ]
    )


def test_a_developers_export_is_narrowed_the_same_way(developer_world):
    developer, dev_key, other_key = developer_world
    _, body = _export(developer, "jsonl")
    exported = [json.loads(line) for line in body.splitlines()]
    assert {e["target"]["id"] for e in exported} >= {str(dev_key.pk)}
    assert str(other_key.pk) not in {e["target"]["id"] for e in exported}
    assert _summary(exported) == _summary(_list(developer)["data"])  # export came later
    exported_event = AuditEvent.dangerously_unscoped.get(action="audit.exported")
    assert exported_event.metadata["scope"] == "own"


def test_an_api_key_scoped_to_audit_read_own_sees_only_its_creators_part(org, as_member):
    owner = as_member(org, role="owner")
    _, raw = api_key_create(
        org=org,
        actor=Actor.system(),
        creator=owner.membership,
        name="narrow",
        scopes=["audit:read_own"],
    )
    record_at(T0, org_id=org.pk, actor=ADMIN_ACTOR)
    events = _list(with_key(raw))["data"]
    assert events
    assert ADMIN_ACTOR.label not in {e["actor"]["label"] for e in events}


def test_what_ones_api_keys_did_is_part_of_ones_own_events(org, as_member):
    owner = as_member(org, role="owner")
    key, raw = api_key_create(
        org=org,
        actor=Actor.system(),
        creator=owner.membership,
        name="bot",
        scopes=["org:write", "audit:read_own"],
    )
    bot = with_key(raw)
    assert bot.patch("/api/org", {"name": "Renamed by bot"}, format="json").status_code == 200
    [event] = _list(bot, action="org.updated")["data"]
    assert (event["actor"]["type"], event["actor"]["id"]) == ("api_key", str(key.pk))


def test_another_orgs_events_never_appear(org, other_org, admin):
    theirs = record_at(T0, org_id=other_org.pk, target_type="x.thing", target=Target("1"))
    record_at(T0, org_id=org.pk)
    events, _ = _walk(admin)
    assert theirs.pk not in {e["id"] for e in events}
    assert _list(admin, target_type="x.thing")["data"] == []
    _, exported = _export(admin, "csv")
    assert str(theirs.pk) not in [row[0] for row in csv.reader(io.StringIO(exported))]


# --- Filters ---------------------------------------------------------------------------


@pytest.fixture
def log(org):
    ada = Actor(type="user", id="1", label="ada@example.test")
    bob = Actor(type="user", id="2", label="bob@example.test")
    events = []
    for minute in range(6):
        events.append(
            record_at(
                T0 + timedelta(minutes=minute),
                org_id=org.pk,
                action=MEMBER_ADDED if minute % 2 else ORG_UPDATED,
                actor=ada if minute < 3 else bob,
                target_type="orgs.membership",
                target=Target(str(minute)),
            )
        )
    return events


@pytest.mark.parametrize(
    ("params", "expected_minutes"),
    [
        pytest.param({"action": "member.added"}, [5, 3, 1], id="action"),
        pytest.param({"actor_type": "user", "actor_id": "2"}, [5, 4, 3], id="actor"),
        pytest.param({"target_type": "orgs.membership", "target_id": "4"}, [4], id="target"),
        pytest.param(
            {
                "since": (T0 + timedelta(minutes=2)).isoformat(),
                "until": (T0 + timedelta(minutes=4)).isoformat(),
            },
            [3, 2],
            id="since-inclusive-until-exclusive",
        ),
        pytest.param({"since": (T0 + timedelta(minutes=4)).isoformat()}, [5, 4], id="since"),
        pytest.param({"actor_type": "system"}, [], id="nothing"),
    ],
)
def test_filters_select_matching_events(admin, log, params, expected_minutes):
    params = {"target_type": "orgs.membership", **params}  # not the admin's own sign-in
    events = _list(admin, **params)["data"]
    assert [e["id"] for e in events] == [log[m].pk for m in expected_minutes]
    _, exported = _export(admin, "jsonl", **params)
    assert [json.loads(line)["id"] for line in exported.splitlines()] == [
        log[m].pk for m in expected_minutes
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"action": "no.such_action"}, "action", id="unknown-action"),
        pytest.param({"actor_type": "robot"}, "actor_type", id="unknown-actor-type"),
        pytest.param({"since": "yesterday"}, "since", id="since-not-a-time"),
        pytest.param({"until": "2026-13-01T00:00:00Z"}, "until", id="until-not-a-date"),
        pytest.param(
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "until",
            id="until-before-since",
        ),
        pytest.param({"target_id": "x" * 65}, "target_id", id="target-id-too-long"),
        pytest.param({"limit": "0"}, "limit", id="limit-zero"),
        pytest.param({"limit": "many"}, "limit", id="limit-not-a-number"),
        pytest.param({"cursor": "not-a-cursor"}, "cursor", id="garbled-cursor"),
        pytest.param({"cursor": "WyJ4IiwgMV0"}, "cursor", id="cursor-not-a-time"),
    ],
)
def test_a_bad_filter_or_cursor_is_a_422(admin, params, field):
    response = admin.get(f"/api/audit-events?{urlencode(params)}")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["details"]["fieldErrors"]


@pytest.mark.parametrize(
    "params",
    [{"format": "xlsx"}, {"format": "csv", "since": "soon"}, {"format": "csv", "action": "x.y"}],
    ids=["unknown-format", "bad-since", "unknown-action"],
)
def test_a_bad_export_request_is_a_422_and_leaves_no_audit_event(admin, params):
    response = admin.get(f"/api/audit-events/export?{urlencode(params)}")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert not AuditEvent.dangerously_unscoped.filter(action="audit.exported").exists()


# --- Cursor paging ---------------------------------------------------------------------


@pytest.fixture
def many(org):
    """25 events, some sharing an instant so the id must break ties."""
    return [record_at(T0 + timedelta(seconds=i // 3), org_id=org.pk) for i in range(25)]


def test_cursor_pages_walk_every_event_once_newest_first(admin, many):
    events, pages = _walk(admin, limit=10, action="org.updated")
    assert pages == 3
    expected = sorted(many, key=lambda e: (e.occurred_at, e.pk), reverse=True)
    assert [e["id"] for e in events] == [e.pk for e in expected]


def test_the_first_page_holds_20_by_default_and_at_most_100(admin, many):
    body = _list(admin)
    assert len(body["data"]) == 20
    assert body["pagination"]["limit"] == 20
    assert body["pagination"]["has_next"] is True
    assert _list(admin, limit=100)["pagination"]["limit"] == 100
    refused = admin.get("/api/audit-events?limit=101")
    assert refused.status_code == 422
    assert "limit" in refused.json()["details"]["fieldErrors"]


def test_events_written_while_paging_do_not_shift_the_pages(org, admin, many):
    first = _list(admin, limit=10, action="org.updated")
    record_at(timezone.now(), org_id=org.pk)
    rest, _ = _walk(
        admin, cursor=first["pagination"]["next_cursor"], limit=10, action="org.updated"
    )
    assert len(first["data"]) + len(rest) == len(many)


def test_a_deep_page_costs_what_the_first_does(admin, many, max_data_queries):
    cursor = _list(admin, limit=20)["pagination"]["next_cursor"]
    # One query authenticates the JWT, one names the org for the request's transaction
    # (row-level security: tenancy.rls.org_transaction), one reads the page.
    with max_data_queries(3):
        _list(admin, limit=2, cursor=cursor)


def test_a_developers_page_is_still_one_query(developer_world, max_data_queries):
    developer, _, _ = developer_world
    # The credential, naming the org for the transaction (tenancy.rls), the page.
    with max_data_queries(3):
        assert _list(developer)["data"]


# --- Export ----------------------------------------------------------------------------


def test_jsonl_export_is_the_whole_filtered_log_shaped_as_the_list(admin, many):
    response, body = _export(admin, "jsonl")
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    assert response["Content-Disposition"].endswith('.jsonl"')
    exported = [json.loads(line) for line in body.splitlines()]
    listed, _ = _walk(admin, limit=100)
    assert exported == listed
    # The export is audited before it reads, so it holds its own audit.exported event.
    assert exported[0]["action"] == "audit.exported"
    assert {e["id"] for e in exported} >= {e.pk for e in many}


def test_csv_export_has_a_header_row_and_one_row_per_event(admin, many):
    response, body = _export(admin, "csv", action="org.updated")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "id",
        "occurred_at",
        "action",
        "actor_type",
        "actor_id",
        "actor_label",
        "target_type",
        "target_id",
        "target_label",
        "ip",
        "user_agent",
        "request_id",
        "metadata",
    ]
    assert [int(row[0]) for row in rows[1:]] == [
        e.pk for e in sorted(many, key=lambda e: (e.occurred_at, e.pk), reverse=True)
    ]


@pytest.mark.parametrize(
    "label",
    ['=HYPERLINK("http://evil.test")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=1"],
)
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_quoted_as_text(org, admin, label):
    record_at(T0, org_id=org.pk, actor=Actor(type="user", id="1", label=label))
    _, body = _export(admin, "csv", actor_id="1")
    [_header, row] = list(csv.reader(io.StringIO(body)))
    assert row[5] == "'" + label


def test_an_export_is_audited_once_with_its_format_and_filters(org, admin):
    since = "2026-01-01T00:00:00+00:00"
    response, _ = _export(admin, "csv", action="org.updated", since=since)
    event = AuditEvent.dangerously_unscoped.get(action="audit.exported")
    assert event.org_id == org.pk
    assert event.actor_id == str(admin.membership.user_id)
    assert event.request_id == response["X-Request-ID"]
    assert event.metadata == {
        "format": "csv",
        "filters": {"action": "org.updated", "occurred_after": since},
        "scope": "org",
    }


def test_an_export_reads_the_log_a_page_at_a_time_as_it_is_sent(org, admin, max_data_queries):
    for i in range(250):
        record_at(T0 + timedelta(seconds=i), org_id=org.pk)
    response = admin.get("/api/audit-events/export?format=jsonl&action=org.updated")
    # Nothing was read yet: the rows are fetched while the body is being sent, 100 a query,
    # each page in a transaction of its own that first names the org (tenancy.rls).
    with max_data_queries(6) as captured:
        lines = b"".join(response.streaming_content).splitlines()
    assert len(lines) == 250
    pages = [q["sql"] for q in captured.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(pages) == 3


@pytest.mark.django_db(transaction=True)
def test_an_export_holds_no_database_connection_while_the_client_reads(org, as_member):
    from django.db import connection, transaction

    from audit.actors import Actor
    from audit.services import record
    from orgs.audit_actions import ORG_UPDATED

    with transaction.atomic():
        for _ in range(250):  # three pages of 100
            record(org_id=org.pk, action=ORG_UPDATED, actor=Actor.system())
    admin = as_member(org, role="admin")
    response = admin.get("/api/audit-events/export?format=jsonl")
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert first.count(b"\n") == 100
    assert connection.connection is None  # handed back between pages
    rest = b"".join(chunks)
    assert (first + rest).count(b"\n") == 252  # with the sign-in and the export itself

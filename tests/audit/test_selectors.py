"""The audit log read: org-scoped, filtered, newest first, paged by keyset cursor; and the
lifecycle event stream's read of the outbox."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import Actor
from audit.models import OutboxEvent
from audit.selectors import (
    InvalidCursor,
    OwnEvents,
    audit_event_list,
    outbox_cursor,
    outbox_events_next,
)
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from tests.audit.helpers import Target, emit, record_at

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)
ADA = Actor(type="user", id="1", label="ada@example.test")
BOB = Actor(type="user", id="2", label="bob@example.test")
KEY_5 = Actor(type="api_key", id="5", label="API key 5 of ada@example.test", user_id=1)
KEY_6 = Actor(type="api_key", id="6", label="API key 6 of bob@example.test", user_id=2)


@pytest.fixture
def log(org, other_org):
    """Nine events of ``org`` one minute apart, two of them at the same instant (a tie the
    id must break), and a few of another org interleaved."""
    events = []
    for minute in range(8):
        events.append(
            record_at(
                T0 + timedelta(minutes=minute),
                org_id=org.pk,
                action=MEMBER_ADDED if minute % 2 else ORG_UPDATED,
                actor=ADA if minute < 5 else BOB,
                target_type="orgs.membership",
                target_label=f"m{minute}",
            )
        )
        record_at(T0 + timedelta(minutes=minute), org_id=other_org.pk)
    events.append(record_at(T0 + timedelta(minutes=7), org_id=org.pk))
    return sorted(events, key=lambda e: (e.occurred_at, e.pk), reverse=True)


def _walk(org, **filters):
    seen, cursor = [], None
    while True:
        page = audit_event_list(org=org, cursor=cursor, limit=2, **filters)
        seen.extend(page.events)
        if not page.has_next:
            return seen
        cursor = page.next_cursor


def test_pages_walk_every_event_of_the_org_once_newest_first(org, log):
    assert [e.pk for e in _walk(org)] == [e.pk for e in log]


def test_another_orgs_events_never_appear(org, other_org, log):
    assert {e.org_id for e in _walk(other_org)} == {other_org.pk}
    assert {e.org_id for e in _walk(org.pk)} == {org.pk}


def test_events_written_while_paging_do_not_shift_the_pages(org, log):
    first = audit_event_list(org=org, limit=3)
    record_at(timezone.now(), org_id=org.pk)

    second = audit_event_list(org=org, limit=3, cursor=first.next_cursor)

    assert [e.pk for e in first.events + second.events] == [e.pk for e in log[:6]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({"action": "member.added"}, lambda e: e.action == "member.added", id="action"),
        pytest.param(
            {"actor_type": "user", "actor_id": "2"}, lambda e: e.actor_id == "2", id="actor"
        ),
        pytest.param(
            {"target_type": "orgs.membership"},
            lambda e: e.target_type == "orgs.membership",
            id="target",
        ),
        pytest.param(
            {
                "occurred_after": T0 + timedelta(minutes=2),
                "occurred_before": T0 + timedelta(minutes=5),
            },
            lambda e: T0 + timedelta(minutes=2) <= e.occurred_at < T0 + timedelta(minutes=5),
            id="time-range",
        ),
    ],
)
def test_filters_select_matching_events_only(org, log, filters, expected):
    matching = [e.pk for e in log if expected(e)]
    assert matching
    assert [e.pk for e in _walk(org, **filters)] == matching


def test_target_id_filter(org, log):
    page = audit_event_list(org=org, target_id=log[0].target_id)
    assert {e.target_id for e in page.events} == {log[0].target_id}


def test_a_page_is_one_query_however_deep(org, log, django_assert_num_queries):
    cursor = audit_event_list(org=org, limit=5).next_cursor
    with django_assert_num_queries(1):
        audit_event_list(org=org, limit=2, cursor=cursor, action="org.updated")


def test_a_deep_page_starts_its_index_scan_at_the_cursor(org, log):
    """The cost of a page must not grow with its depth: PostgreSQL's index condition (not a
    filter applied after walking every newer row) holds the cursor's position."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cursor = audit_event_list(org=org, limit=3).next_cursor
    with CaptureQueriesContext(connection) as captured:
        audit_event_list(org=org, limit=3, cursor=cursor)
    with connection.cursor() as db:
        db.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned whole
        db.execute("EXPLAIN " + captured.captured_queries[0]["sql"])
        plan = "\n".join(row[0] for row in db.fetchall())
    index_conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("occurred_at <=" in line for line in index_conditions), plan


def test_last_page_has_no_cursor(org, log):
    page = audit_event_list(org=org, limit=len(log))
    assert len(page.events) == len(log)
    assert page.next_cursor is None


def _b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param(_b64("not json"), id="not-json"),
        pytest.param(_b64('{"a": 1}'), id="not-a-pair"),
        pytest.param(_b64('["yesterday", 1]'), id="not-a-time"),
        pytest.param(_b64('["2026-01-01T00:00:00", 1]'), id="naive-time"),
        pytest.param(_b64('["2026-01-01T00:00:00+00:00", "1"]'), id="id-not-int"),
    ],
)
def test_garbled_cursor_is_refused(org, cursor):
    with pytest.raises(InvalidCursor):
        audit_event_list(org=org, cursor=cursor)


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_outside_1_to_100_is_refused(org, limit):
    with pytest.raises(ValueError, match="limit"):
        audit_event_list(org=org, limit=limit)


def test_an_org_is_required():
    with pytest.raises(ValueError, match="organization"):
        audit_event_list(org=None)


# --- One person's events (audit:read_own) ------------------------------------------------


@pytest.fixture
def keys_log(org):
    """ADA's own doing, what her key 5 did and what key 6 (not hers) did, things done to key
    5 and to key 6, and a membership that happens to share key 5's id."""
    events: dict[str, object] = {}
    for name, actor, target_type, target_id in [
        ("ada_did", ADA, "", ""),
        ("ada_key_did", KEY_5, "", ""),
        ("other_key_did", KEY_6, "", ""),
        ("bob_on_ada_key", BOB, "apikeys.apikey", "5"),
        ("bob_on_other_key", BOB, "apikeys.apikey", "6"),
        ("bob_on_membership_5", BOB, "orgs.membership", "5"),
        ("bob_did", BOB, "", ""),
    ]:
        target = Target(target_id) if target_id else None
        events[name] = record_at(
            T0 + timedelta(minutes=len(events)),
            org_id=org.pk,
            actor=actor,
            target=target,
            target_type=target_type,
            target_label=name,
        )
    return events


ADAS = OwnEvents(user_id="1", actors={"api_key": ["5"]}, targets={"apikeys.apikey": ["5"]})


def test_own_events_are_what_one_and_ones_keys_did_and_what_was_done_to_them(org, keys_log):
    seen = {e.target_label for e in audit_event_list(org=org, own=ADAS).events}
    assert seen == {"ada_did", "ada_key_did", "bob_on_ada_key"}


def test_own_events_combine_with_filters(org, keys_log):
    own = ADAS
    page = audit_event_list(org=org, own=own, actor_id="2")
    assert [e.target_label for e in page.events] == ["bob_on_ada_key"]


def test_nobody_owns_anything_sees_only_their_own_doing(org, keys_log):
    page = audit_event_list(org=org, own=OwnEvents(user_id="2"))
    assert {(e.actor_type, e.actor_id) for e in page.events} == {("user", "2")}
    assert len(page.events) == 4


# --- The lifecycle event stream ---------------------------------------------------------


def _public_id(event):
    return OutboxEvent.dangerously_unscoped.get(audit_event=event).public_id


def test_a_cursor_from_now_serves_only_what_is_written_later(org):
    old = record_at(timezone.now() - timedelta(seconds=1), org_id=org.pk)
    cursor = outbox_cursor(org=org, after_event_id=None, now=timezone.now())
    new = emit(org)
    served = outbox_events_next(cursor)
    assert [e.audit_event_id for e in served] == [new.pk]
    assert old.pk not in {e.audit_event_id for e in served}
    assert outbox_events_next(cursor) == []


def test_a_cursor_after_an_event_serves_the_ones_after_it_in_order(org, other_org):
    events = [record_at(T0 + timedelta(seconds=s), org_id=org.pk) for s in range(4)]
    record_at(T0 + timedelta(seconds=2), org_id=other_org.pk)
    cursor = outbox_cursor(org=org, after_event_id=_public_id(events[1]), now=timezone.now())
    served = outbox_events_next(cursor, limit=1) + outbox_events_next(cursor)
    assert [e.audit_event_id for e in served] == [events[2].pk, events[3].pk]


def test_events_at_the_same_instant_are_ordered_by_audit_id(org):
    first, second = (record_at(T0, org_id=org.pk) for _ in range(2))
    cursor = outbox_cursor(org=org, after_event_id=_public_id(first), now=timezone.now())
    assert [e.audit_event_id for e in outbox_events_next(cursor)] == [second.pk]


@pytest.mark.parametrize(
    "last_event_id",
    ["", "garbage", "evt_" + "0" * 32, "evt_" + "A" * 32, "0" * 32],
    ids=["empty", "garbage", "unknown", "uppercase", "no-prefix"],
)
def test_an_unknown_or_bad_last_event_id_starts_from_now(org, last_event_id):
    record_at(timezone.now() - timedelta(seconds=1), org_id=org.pk)
    cursor = outbox_cursor(org=org, after_event_id=last_event_id, now=timezone.now())
    assert outbox_events_next(cursor) == []


def test_another_orgs_event_id_starts_from_now(org, other_org):
    theirs = record_at(T0, org_id=other_org.pk)
    record_at(T0 + timedelta(seconds=1), org_id=org.pk)
    cursor = outbox_cursor(org=org, after_event_id=_public_id(theirs), now=timezone.now())
    assert outbox_events_next(cursor) == []


def test_an_event_committed_after_a_later_stamped_one_is_still_served(org):
    """Stamps follow inserts, visibility follows commits: the look-back catches up."""
    cursor = outbox_cursor(org=org, after_event_id=None, now=timezone.now())
    later = emit(org)
    assert [e.audit_event_id for e in outbox_events_next(cursor)] == [later.pk]
    earlier = record_at(later.occurred_at - timedelta(seconds=2), org_id=org.pk)
    assert [e.audit_event_id for e in outbox_events_next(cursor)] == [earlier.pk]
    assert outbox_events_next(cursor) == []


def test_a_stream_poll_is_one_query(org, django_assert_num_queries):
    cursor = outbox_cursor(org=org, after_event_id=None, now=timezone.now())
    emit(org)
    with django_assert_num_queries(1):
        assert len(outbox_events_next(cursor)) == 1

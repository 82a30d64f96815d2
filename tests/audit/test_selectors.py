"""The audit log read: org-scoped, filtered, newest first, paged by keyset cursor."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import Actor
from audit.selectors import InvalidCursor, audit_event_list
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from tests.audit.helpers import record_at

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)
ADA = Actor(type="user", id="1", label="ada@example.test")
BOB = Actor(type="user", id="2", label="bob@example.test")


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

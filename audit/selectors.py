"""Reads of the audit log: one org at a time, newest first, paged by a keyset cursor.

The cursor is the position of the last row served, ``(occurred_at, id)``, so a page costs
one indexed query (``audit_org_time``) however deep it is, and rows written while a client
pages never shift or repeat what it sees. The cursor is opaque to clients, and carries no
org: the org filter always comes from the caller.
"""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent, OutboxEvent


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class OwnEvents:
    """Narrows the log to one person's part: what they did, what their credentials did, and
    what was done to things they own.

    The log knows no owners (it imports no other app); its caller does, and passes the ids:
    ``actors`` maps an actor type (``api_key``) and ``targets`` a target type (a model
    label, ``apikeys.apikey``) to that person's ids of that type, as strings, either a list
    or a queryset of one text column. A queryset stays a subquery: a page is one query.
    """

    user_id: str
    actors: Mapping[str, Any] = dataclass_field(default_factory=dict)
    targets: Mapping[str, Any] = dataclass_field(default_factory=dict)

    def as_q(self) -> Q:
        visible = Q(actor_type="user", actor_id=self.user_id)
        for actor_type, ids in self.actors.items():
            visible |= Q(actor_type=actor_type, actor_id__in=ids)
        for target_type, ids in self.targets.items():
            visible |= Q(target_type=target_type, target_id__in=ids)
        return visible


@dataclass(frozen=True)
class AuditEventPage:
    events: list[AuditEvent]
    next_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def audit_event_list(
    *,
    org: Any,
    action: str | None = None,
    actor_type: str | None = None,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
    own: OwnEvents | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> AuditEventPage:
    """One page of ``org``'s audit events, newest first, filtered.

    ``occurred_after`` is inclusive, ``occurred_before`` exclusive; ``own`` keeps only one
    person's events (see ``OwnEvents``). Raises ``InvalidCursor`` for a cursor this
    function did not produce and ``ValueError`` for a limit outside 1..100. One query.
    """
    org_id = getattr(org, "pk", org)
    if org_id is None:
        raise ValueError("audit_event_list() needs an organization")
    limit = settings.PAGE_SIZE if limit is None else limit
    if not 1 <= limit <= settings.MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {settings.MAX_PAGE_SIZE}")
    filters: dict[str, Any] = {}
    for field, value in [
        ("action", action),
        ("actor_type", actor_type),
        ("actor_id", actor_id),
        ("target_type", target_type),
        ("target_id", target_id),
        ("occurred_at__gte", occurred_after),
        ("occurred_at__lt", occurred_before),
    ]:
        if value is not None:
            filters[field] = value
    rows = AuditEvent.objects.for_org(org_id).filter(**filters)
    if own is not None:
        rows = rows.filter(own.as_q())
    if cursor is not None:
        occurred_at, pk = decode_cursor(cursor)
        # (occurred_at, id) < (cursor): the plain bound on occurred_at is what lets
        # PostgreSQL start its index scan at the cursor; without it, an OR alone makes it
        # walk (and filter) every newer row first, so a deep page cost its depth.
        rows = rows.filter(occurred_at__lte=occurred_at).filter(
            Q(occurred_at__lt=occurred_at) | Q(pk__lt=pk)
        )
    # One row more than asked tells whether there is a next page without a COUNT.
    events = list(rows.order_by("-occurred_at", "-id")[: limit + 1])
    if len(events) <= limit:
        return AuditEventPage(events=events, next_cursor=None)
    events = events[:limit]
    return AuditEventPage(events=events, next_cursor=encode_cursor(events[-1]))


def encode_cursor(event: AuditEvent) -> str:
    raw = json.dumps([event.occurred_at.isoformat(), event.pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at_text, pk = json.loads(raw)
        occurred_at = parse_datetime(occurred_at_text)
        if occurred_at is None or occurred_at.tzinfo is None or type(pk) is not int:
            raise InvalidCursor("invalid cursor")
        # In UTC, as the database compares it: year 1 at +23:59 or year 9999 at -23:59 falls
        # outside what a datetime can hold (OverflowError), which a cursor we made never does.
        occurred_at = occurred_at.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not 0 < pk < 2**63:
        raise InvalidCursor("invalid cursor")
    return occurred_at, pk


# --- The lifecycle event stream: the org's outbox, oldest first --------------------------

# Outbox rows are stamped when inserted but become visible when their transaction commits,
# and the two orders differ: a reader that only moved forward from the newest stamp it had
# served would skip an event that committed just after a later-stamped one. So each read
# looks back this far behind its high-water mark and leaves out what it already served.
# An event committed more than this after its stamp (a transaction that long, or clock
# skew that large between app hosts) is missed by streams that were live at the time.
STREAM_LOOKBACK = timedelta(seconds=10)
STREAM_BATCH = 100
_PUBLIC_EVENT_ID = re.compile(r"^evt_([0-9a-f]{32})$")


@dataclass
class OutboxCursor:
    """Where one stream stands in its org's outbox: the newest stamp it has passed, and the
    events stamped within ``STREAM_LOOKBACK`` of it that it has served or started after."""

    org_id: int
    high_water: datetime
    seen: dict[uuid.UUID, datetime]


def outbox_cursor(*, org: Any, after_event_id: str | None, now: datetime) -> OutboxCursor:
    """A cursor just after ``org``'s event ``after_event_id`` (the ``evt_<hex>`` id the
    stream sends), or at ``now`` when that id is missing, malformed, another org's or
    purged: the stream then carries only what commits from now on. One or two queries."""
    org_id = getattr(org, "pk", org)
    if org_id is None:
        raise ValueError("outbox_cursor() needs an organization")
    rows = OutboxEvent.objects.for_org(org_id)
    match = _PUBLIC_EVENT_ID.match(after_event_id or "")
    anchor = (
        rows.filter(pk=uuid.UUID(match.group(1))).only("created_at", "audit_event_id").first()
        if match
        else None
    )
    if anchor is None:
        high_water, served = now, rows.filter(created_at__lte=now)
    else:
        high_water = anchor.created_at
        served = rows.filter(
            Q(created_at__lt=anchor.created_at)
            | Q(created_at=anchor.created_at, audit_event_id__lte=anchor.audit_event_id)
        )
    seen = served.filter(created_at__gte=high_water - STREAM_LOOKBACK).values_list(
        "pk", "created_at"
    )
    return OutboxCursor(org_id=org_id, high_water=high_water, seen=dict(seen))


def outbox_events_next(cursor: OutboxCursor, *, limit: int = STREAM_BATCH) -> list[OutboxEvent]:
    """Up to ``limit`` of the cursor's org's events it has not served, oldest first, and
    moves the cursor past them. One query."""
    events = list(
        OutboxEvent.objects.for_org(cursor.org_id)
        .filter(created_at__gte=cursor.high_water - STREAM_LOOKBACK)
        .exclude(pk__in=list(cursor.seen))
        .order_by("created_at", "audit_event_id")
        .only("type", "payload", "created_at", "audit_event_id")[:limit]
    )
    for event in events:
        cursor.seen[event.pk] = event.created_at
        cursor.high_water = max(cursor.high_water, event.created_at)
    floor = cursor.high_water - STREAM_LOOKBACK
    cursor.seen = {pk: stamp for pk, stamp in cursor.seen.items() if stamp >= floor}
    return events

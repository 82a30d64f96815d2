"""Reads of the audit log: one org at a time, newest first, paged by a keyset cursor.

The cursor is the position of the last row served, ``(occurred_at, id)``, so a page costs
one indexed query (``audit_org_time``) however deep it is, and rows written while a client
pages never shift or repeat what it sees. The cursor is opaque to clients, and carries no
org: the org filter always comes from the caller.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class InvalidCursor(ValueError):
    pass


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
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> AuditEventPage:
    """One page of ``org``'s audit events, newest first, filtered.

    ``occurred_after`` is inclusive, ``occurred_before`` exclusive. Raises ``InvalidCursor``
    for a cursor this function did not produce and ``ValueError`` for a limit outside
    1..100. One query.
    """
    org_id = getattr(org, "pk", org)
    if org_id is None:
        raise ValueError("audit_event_list() needs an organization")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    filters: dict[str, Any] = {"org_id": org_id}
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
    rows = AuditEvent.objects.filter(**filters)
    if cursor is not None:
        occurred_at, pk = decode_cursor(cursor)
        rows = rows.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, pk__lt=pk))
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
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if occurred_at is None or occurred_at.tzinfo is None or type(pk) is not int:
        raise InvalidCursor("invalid cursor")
    return occurred_at, pk

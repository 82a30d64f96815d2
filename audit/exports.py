"""Exporting the audit log: JSON Lines or CSV, streamed page by page, and audited.

Exporting is a read, but a bulk copy of the whole trail leaving the platform is what a
security review asks about first, so it leaves an ``audit.exported`` event of its own.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.actors import Actor
from audit.audit_actions import AUDIT_EXPORTED
from audit.connections import release_connection
from audit.models import AuditEvent
from audit.selectors import OwnEvents, audit_event_list
from audit.serializers import AuditEventSerializer
from audit.services import record
from tenancy.rls import org_transaction

FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
CSV_COLUMNS = [
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
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection);
# labels, user agents and metadata come from users, so such cells are quoted into text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def audit_log_export(
    *, org: Any, actor: Actor, fmt: str, filters: dict[str, Any], own: OwnEvents | None = None
) -> Iterator[str]:
    """Record ``audit.exported`` (format, filters and whether the export was narrowed to
    the actor's own events), then return the export as text chunks, newest event first.

    The event is written, in its own transaction, before any row is read: an export that
    cannot be audited never starts. The rows are read lazily, one keyset page (one query)
    per chunk as the chunks are consumed, so memory stays flat however long the log is.
    ``filters`` are ``audit_event_list``'s; raises ``ValueError`` for an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    org_id = getattr(org, "pk", org)
    with transaction.atomic():
        record(
            org_id=org_id,
            action=AUDIT_EXPORTED,
            actor=actor,
            metadata={
                "format": fmt,
                "filters": {name: _text(value) for name, value in filters.items()},
                "scope": "own" if own is not None else "org",
            },
        )
    pages = _pages(org_id=org_id, filters=filters, own=own)
    return _csv_chunks(pages) if fmt == "csv" else _jsonl_chunks(pages)


def _pages(
    *, org_id: int, filters: dict[str, Any], own: OwnEvents | None
) -> Iterator[list[AuditEvent]]:
    cursor = None
    while True:
        # Read while the response streams, after the request's transaction: each page is a
        # transaction of its own in the org (tenancy.rls).
        with org_transaction(org_id):
            page = audit_event_list(
                org=org_id, own=own, cursor=cursor, limit=settings.MAX_PAGE_SIZE, **filters
            )
        # A slow reader must not keep a pooled connection between pages.
        release_connection()
        if page.events:
            yield page.events
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _jsonl_chunks(pages: Iterator[list[AuditEvent]]) -> Iterator[str]:
    # The same shape as GET /api/audit-events, one event per line.
    for events in pages:
        yield "".join(
            json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
            for item in AuditEventSerializer(events, many=True).data
        )


def _csv_chunks(pages: Iterator[list[AuditEvent]]) -> Iterator[str]:
    yield _csv_rows([CSV_COLUMNS])
    for events in pages:
        yield _csv_rows([[csv_safe(_text(getattr(e, c))) for c in CSV_COLUMNS] for e in events])


def _csv_rows(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def csv_safe(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)

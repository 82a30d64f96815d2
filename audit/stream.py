"""The body of GET /api/events/stream: an org's lifecycle events as Server-Sent Events.

The stream is an async generator, which Django drives under ASGI on the event loop: while
it waits between polls it holds neither a worker thread nor a database connection. Each
poll reads the outbox (``audit.selectors.outbox_events_next``) through ``sync_to_async``
and hands its connection straight back to the pool, so a thousand idle streams do not pin
a thousand pooled connections. Between events a comment line keeps proxies from timing the
connection out, and every ``EVENT_STREAM_RECHECK_SECONDS`` the view's ``still_allowed``
authenticates the request again: permissions travel with the credential, so a revoked
key, an ended sign-in or a lost role ends the stream (the client's reconnection is then
refused with the usual 401/403).
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from audit.models import OutboxEvent
from audit.selectors import STREAM_BATCH, OutboxCursor, outbox_events_next

# How long an EventSource waits before reconnecting (with Last-Event-ID) after a drop.
RETRY_MILLISECONDS = 3000


def format_event(event: OutboxEvent) -> str:
    """One event in the text/event-stream format; its id is the ``webhook-id`` receivers
    see, and what a client sends back as ``Last-Event-ID`` to resume."""
    data = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.public_id}\nevent: {event.type}\ndata: {data}\n\n"


async def event_stream(
    *, cursor: OutboxCursor, still_allowed: Callable[[], bool]
) -> AsyncIterator[str]:
    """Events from ``cursor`` on, as they commit, until the client leaves (Django then
    cancels this generator) or ``still_allowed`` says no."""
    poll = float(settings.EVENT_STREAM_POLL_SECONDS)
    keepalive = float(settings.EVENT_STREAM_KEEPALIVE_SECONDS)
    recheck = float(settings.EVENT_STREAM_RECHECK_SECONDS)
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    # The connection authentication used: held since the request began, it is not needed
    # until the first poll.
    await sync_to_async(_release_connection)()
    last_sent = last_check = time.monotonic()
    while True:
        events = await sync_to_async(_next_events)(cursor)
        now = time.monotonic()
        if events:
            yield "".join(format_event(event) for event in events)
            last_sent = now
        elif now - last_sent >= keepalive:
            yield ": keep-alive\n\n"
            last_sent = now
        if now - last_check >= recheck:
            if not await sync_to_async(_checked)(still_allowed):
                return
            last_check = now
        if len(events) < STREAM_BATCH:  # else more are waiting: read on at once
            await asyncio.sleep(poll)


def _next_events(cursor: OutboxCursor) -> list[OutboxEvent]:
    try:
        return outbox_events_next(cursor)
    finally:
        _release_connection()


def _checked(still_allowed: Callable[[], bool]) -> bool:
    try:
        return still_allowed()
    finally:
        _release_connection()


def _release_connection() -> None:
    # Back to the pool (or closed, without one). Never inside a transaction: that is only
    # ever a test's, and closing would break it.
    if not connection.in_atomic_block:
        connection.close()

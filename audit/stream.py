"""The body of GET /api/events/stream: an org's lifecycle events as Server-Sent Events.

Under ASGI the stream is an async generator, driven by the server on its event loop: while
it waits between polls it occupies no worker and holds no database connection. Each poll
runs in a thread (``sync_to_async``), reads the outbox (``outbox_events_next``) and hands
its connection straight back to the pool, so a thousand idle streams do not pin a thousand
pooled connections. (Django's ASGI handler does give every request in flight one thread of
its own for synchronous code, our middleware and its signal handlers among it; a stream's
polls run there, and between them it sits idle: a stream costs that thread's memory, but
takes no place that another request waits for.) Under WSGI (``runserver``) the same loop
runs as a plain generator, which holds a server thread for as long as the client listens:
fine for local development.

Between events a comment line keeps proxies from timing the connection out, and every
``EVENT_STREAM_RECHECK_SECONDS`` the view's ``still_allowed`` authenticates the request
again: permissions travel with the credential, so a revoked key, an ended sign-in or a lost
role ends the stream (and the client's reconnection gets the usual 401 or 403).
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from audit.connections import release_connection
from audit.models import OutboxEvent
from audit.selectors import STREAM_BATCH, OutboxCursor, outbox_events_next
from tenancy.rls import org_transaction

# How long an EventSource waits before reconnecting (with Last-Event-ID) after a drop.
RETRY_MILLISECONDS = 3000
OPENING = f"retry: {RETRY_MILLISECONDS}\n\n"
KEEPALIVE = ": keep-alive\n\n"


def format_event(event: OutboxEvent) -> str:
    """One event in the text/event-stream format; its id is the ``webhook-id`` receivers
    see, and what a client sends back as ``Last-Event-ID`` to resume."""
    data = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.public_id}\nevent: {event.type}\ndata: {data}\n\n"


@dataclass(frozen=True)
class _Step:
    text: str  # what to send now ("" for nothing)
    wait: float  # seconds until the next step
    ended: bool = False


class _Stream:
    """One stream's state; ``step`` is synchronous (it reads the database)."""

    def __init__(self, cursor: OutboxCursor, still_allowed: Callable[[], bool]) -> None:
        self.cursor = cursor
        self.still_allowed = still_allowed
        self.poll = float(settings.EVENT_STREAM_POLL_SECONDS)
        self.keepalive = float(settings.EVENT_STREAM_KEEPALIVE_SECONDS)
        self.recheck = float(settings.EVENT_STREAM_RECHECK_SECONDS)
        self.last_sent = self.last_check = time.monotonic()

    def step(self) -> _Step:
        try:
            # Each poll is a transaction of its own, in the stream's org (tenancy.rls).
            with org_transaction(self.cursor.org_id):
                return self._step()
        finally:
            release_connection()

    def _step(self) -> _Step:
        now = time.monotonic()
        if now - self.last_check >= self.recheck:
            if not self.still_allowed():
                return _Step(text="", wait=0.0, ended=True)
            self.last_check = now
        events = outbox_events_next(self.cursor)
        text = "".join(format_event(event) for event in events)
        if not text and now - self.last_sent >= self.keepalive:
            text = KEEPALIVE
        if text:
            self.last_sent = now
        # A full batch means more are waiting: read on at once.
        return _Step(text=text, wait=0.0 if len(events) == STREAM_BATCH else self.poll)


async def event_stream(
    *, cursor: OutboxCursor, still_allowed: Callable[[], bool]
) -> AsyncIterator[str]:
    """Events after ``cursor`` as they commit, until the client leaves (Django then
    cancels this generator) or ``still_allowed`` says no. For ASGI."""
    stream = _Stream(cursor, still_allowed)
    yield OPENING
    # The connection authentication used, held since the request began.
    await sync_to_async(release_connection)()
    while True:
        step = await sync_to_async(stream.step)()
        if step.text:
            yield step.text
        if step.ended:
            return
        await asyncio.sleep(step.wait)


def event_stream_sync(*, cursor: OutboxCursor, still_allowed: Callable[[], bool]) -> Iterator[str]:
    """The same stream for WSGI, where Django would read an async generator to its end
    (which a stream never reaches) before sending a byte."""
    stream = _Stream(cursor, still_allowed)
    yield OPENING
    while True:
        step = stream.step()
        if step.text:
            yield step.text
        if step.ended:
            return
        time.sleep(step.wait)

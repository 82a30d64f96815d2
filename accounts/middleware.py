"""Sliding expiry for browser sessions, without a session-store write per request."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

from accounts.session_store import SEEN_KEY


class SessionSlidingMiddleware:
    """Moves a signed-in session's expiry forward at most once per ``SESSION_TOUCH_SECONDS``.

    Marking the session modified makes Django's SessionMiddleware save it (new expiry in the
    store) and send the cookie again (new ``Expires``/``Max-Age`` in the browser). In between,
    requests only read the session. A request without a session cookie is not looked at.
    Sits after SessionMiddleware in MIDDLEWARE.

    Looked at after the view, not before: the session credential of an API request reads
    the session with its person in one statement (``accounts.session_auth``), which a read
    here first would turn into two round trips. SessionMiddleware, outside this one, saves
    the session after both.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.session_key:
            return response
        data = session._session  # (what ``in`` and ``get`` read: loaded if nothing has)
        if SESSION_KEY in data:
            now = int(time.time())
            if now - int(data.get(SEEN_KEY, 0)) >= settings.SESSION_TOUCH_SECONDS:
                session[SEEN_KEY] = now
        return response

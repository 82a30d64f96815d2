"""The session engine (``SESSION_ENGINE = "accounts.session_store"``).

Django's cached-database store, read from Redis when ``REDIS_URL`` is set (the database
otherwise), kept in ``accounts.BrowserSession`` so a person's sessions can be listed and
ended. The row's user, IP, user agent and times are copied from the session's data when it is
saved; nothing here decides when that happens (``accounts.middleware`` does).
"""

import hashlib
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import cached_db, db
from django.core.cache import caches
from django.db import router, transaction
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

# Session data keys of ours, beside Django's auth keys.
ORG_KEY = "tnt_org_id"  # the org the person acts in when the host names none (= orgs.bases)
META_KEY = "tnt_meta"  # {"ip", "ua", "created"} captured at sign-in
SEEN_KEY = "tnt_seen"  # epoch seconds of the last write: the sliding-expiry clock


def key_digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def acting_org_id(data: dict[str, Any]) -> int | None:
    """The org the session's data names (its ``acting_org_id`` column), or None."""
    org_id = data.get(ORG_KEY)
    return org_id if type(org_id) is int else None


_serializers: dict[str, Any] = {}


def _serializer() -> Any:
    """``import_string(settings.SESSION_SERIALIZER)``, imported once per setting."""
    name = settings.SESSION_SERIALIZER
    serializer = _serializers.get(name)
    if serializer is None:
        serializer = _serializers[name] = import_string(name)
    return serializer


class _BrowserSessionRows:
    """Mixed into Django's stores: the model and the extra columns.

    A store is made for every request that carries the cookie, most of which only read the
    session (or, on the API, never load it: ``accounts.session_auth`` reads it with the
    person). Django's ``SessionBase.__init__`` imports the serializer by its dotted path
    each time (``import_string``: ~2 µs); this one sets the same attributes with the
    serializer imported once per setting (a test holds the attributes to Django's).
    """

    def __init__(self, session_key: str | None = None) -> None:
        self._session_key = session_key
        self.accessed = False
        self.modified = False
        self.serializer = _serializer()

    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import BrowserSession

        return BrowserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        obj = super().create_model_instance(data)  # type: ignore[misc]
        user_id = data.get(SESSION_KEY)
        obj.user_id = int(user_id) if user_id else None
        obj.acting_org_id = acting_org_id(data)
        obj.key_digest = key_digest(obj.session_key)
        meta = data.get(META_KEY) or {}
        created = meta.get("created")
        obj.created_at = datetime.fromtimestamp(created, tz=UTC) if created else timezone.now()
        obj.last_seen_at = timezone.now()
        obj.ip = meta.get("ip") or None
        obj.user_agent = (meta.get("ua") or "")[:512]
        return obj


class CachedDatabaseStore(_BrowserSessionRows, cached_db.SessionStore):
    """Django's cached_db store, but a session's Redis copy is written by a save alone and
    is deleted again when the deleting transaction commits.

    Ending a session deletes its row inside the caller's transaction and its Redis copy at
    once; a request in between misses Redis and still sees the row (the delete is not
    committed yet). Django's load would write that row back into Redis, for as long as the
    session had left to live (days), and every page would go on reading it there: the
    session ended (signed out everywhere, a stolen one ended) lives on. So a load that misses
    Redis answers from the database without writing Redis (the next save writes it: at most
    ``SESSION_TOUCH_SECONDS`` later for a session in use), and a delete inside a transaction
    deletes the Redis copy once more on COMMIT. A save cannot bring an ended session back:
    it updates the row first, which waits for the deleting transaction and then fails.
    Checking the row on every load instead would be a query per page, the cache's point gone.
    """

    @cached_property
    def _cache(self) -> Any:
        """The session cache, as Django's ``__init__`` sets it, looked up on first use (a
        request whose session is read with its person never uses it)."""
        return caches[settings.SESSION_CACHE_ALIAS]

    def load(self) -> dict[str, Any]:
        store: Any = self  # (the row's read is Django's, not in its stubs)
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # as Django's: an invalid cache key resets the session
            data = None
        if data is not None:
            return data
        row = store._get_session_from_db()
        return self.decode(row.session_data) if row else {}

    async def aload(self) -> dict[str, Any]:
        store: Any = self
        try:
            data = await self._cache.aget(await self.acache_key())
        except Exception:
            data = None
        if data is not None:
            return data
        row = await store._aget_session_from_db()
        return self.decode(row.session_data) if row else {}

    def delete(self, session_key: str | None = None) -> None:
        super().delete(session_key)
        session_key = session_key or self.session_key
        if session_key is None:
            return
        using = router.db_for_write(self.model)
        if transaction.get_connection(using).in_atomic_block:
            cache, cache_key = self._cache, self.cache_key_prefix + session_key
            transaction.on_commit(lambda: cache.delete(cache_key), using=using)


class DatabaseStore(_BrowserSessionRows, db.SessionStore):
    pass


# With Redis, reads come from the shared cache and the database keeps the durable copy;
# without it (local development) a per-process cache would serve stale sessions.
SessionStore = CachedDatabaseStore if settings.REDIS_URL else DatabaseStore

"""The Redis cache backend: Django's, keeping one ``redis.Redis`` client per connection pool,
and running the hot commands on a connection each thread keeps.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every command, and
each construction fills a case-insensitive dict of ~170 response callbacks. Profiled under
load, the three clients an API request asked for (rate limits, usage counters) cost more
CPU than its credential lookup. A client holds no connection of its own (it borrows one
from the pool per command, and the pool starts afresh in a forked worker), so one per pool
is as safe to share as the pool itself.

Then redis-py's per-command path itself (the pool's check-out and return under a lock and
a deprecation wrapper, the retry and callback machinery) cost twice the CPU of sending the
command and reading its reply. ``command`` (the rate-limit script of every API request,
``orgs.ratelimits``) and ``get`` (a session's read, on every request that carries one) send
on a connection each thread checks out of the pool once and keeps (``_kept``); a connection
that fails is dropped and that one command goes redis-py's way, with its retries.
"""

import os
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))  # pools live as long as this object
        if client is None:
            client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            self._clients[id(pool)] = client
        return client

    def command(self, *args: Any, write: bool = True) -> Any:
        """One command (its raw reply: no response callback) on this thread's kept
        connection to the pool's server. An error reply is raised as redis-py raises it
        (``NoScriptError`` and the like: the reply was read whole, the connection stays)."""
        client = self.get_client(write=write)
        connection = _kept(client.connection_pool)
        try:
            connection.send_command(*args)
            return connection.read_response()
        except ResponseError:
            raise
        except (RedisConnectionError, RedisTimeoutError):
            connection.disconnect()  # (the next command reconnects it)
        except BaseException:
            connection.disconnect()  # a half-sent command or half-read reply must not linger
            raise
        return client.execute_command(*args)

    def get(self, key: Any, default: Any) -> Any:
        value = self.command("GET", key, write=False)
        return default if value is None else self._serializer.loads(value)  # type: ignore[attr-defined]


class _KeptConnections(threading.local):
    """This thread's connections, one per pool, each checked out once and kept; a forked
    worker checks out its own."""

    pid: int = 0
    by_pool: dict[int, tuple[Any, Any]]


_kept_connections = _KeptConnections()


def _kept(pool: Any) -> Any:
    kept = _kept_connections
    if kept.pid != os.getpid():
        kept.pid, kept.by_pool = os.getpid(), {}
    entry = kept.by_pool.get(id(pool))
    if entry is None or entry[0] is not pool:  # (a pool gone and its id reused)
        entry = (pool, pool.get_connection())
        kept.by_pool[id(pool)] = entry
    return entry[1]


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

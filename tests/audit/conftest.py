import pytest

from tests.harness.asgi import ASGIServer, database_env

# Fast enough for tests to see every mechanism within a second or two.
STREAM_SETTINGS = {
    "EVENT_STREAM_POLL_SECONDS": "0.1",
    "EVENT_STREAM_KEEPALIVE_SECONDS": "0.5",
    "EVENT_STREAM_RECHECK_SECONDS": "0.5",
}
# A pool smaller than the number of streams a test opens: streams must not hold connections.
POOL_SETTINGS = {"DATABASE_POOL_MIN": "1", "DATABASE_POOL_MAX": "2", "DATABASE_POOL_TIMEOUT": "5"}


@pytest.fixture(scope="module")
def asgi_server(django_db_setup):
    """The app under uvicorn on 127.0.0.1, on this session's test database; stopped (and its
    connections closed) before the database is dropped."""
    env = {
        **database_env(),
        **STREAM_SETTINGS,
        **POOL_SETTINGS,
        "SECURE_SSL_REDIRECT": "false",
    }
    server = ASGIServer(env).start()
    yield server
    server.stop()

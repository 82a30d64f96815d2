from django.db import connection


def release_connection() -> None:
    """Back to the pool (or closed, without one), for long responses that read in steps
    (the event stream, exports): between steps they hold no connection another request
    could use. Never inside a transaction: that is only ever a test's, and closing would
    break it."""
    if not connection.in_atomic_block:
        connection.close()

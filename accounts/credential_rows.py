"""The membership a credential acts as (with its user and org), read in the credential's
one statement and built without the ORM compiling a query on every request.

Every API request reads its credential's membership fresh (no cache may hide a removal or a
revocation), so this read is the hottest code in the product. Profiled under load, the
ORM version spent more time compiling its four-model ``select_related`` than PostgreSQL
spent answering it; the statements built here are plain SQL text made once at import, and
the rows become ordinary model instances (the user's password hash is never read).
"""

import json
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.dispatch import receiver

from accounts.models import User
from orgs.models import Membership, Organization

Row = Sequence[Any]


class ModelColumns:
    """Some concrete fields of one model, selected from a table alias, in the model's order
    (what ``Model.from_db`` needs to build an instance with the others deferred)."""

    def __init__(self, model: type[models.Model], alias: str, *, leave_out: tuple[str, ...] = ()):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.name not in leave_out]
        self.attnames = [f.attname for f in self.fields]
        self.width = len(self.fields)
        self.new = model.__new__
        self.sql = ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields)
        # The conversions the ORM would apply to these columns (JSON text to objects; on
        # SQLite also text to datetimes and integers to booleans).
        self.converters: list[tuple[int, Callable[..., Any], Any]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            for convert in [
                *connection.ops.get_db_converters(column),
                *column.get_db_converters(connection),
            ]:
                if _is_plain_json(field, convert):
                    convert = _json_from_db
                self.converters.append((index, convert, column))

    def __len__(self) -> int:
        return len(self.fields)

    def build(self, row: Row, start: int) -> Any:
        values = row[start : start + self.width]
        if self.converters:
            values = list(values)
            for index, convert, column in self.converters:
                values[index] = convert(values[index], column, connection)
        if pre_init.receivers or post_init.receivers:  # someone listens: the ORM's own way
            return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, list(values))
        # The instance Model.from_db builds (the fields not read stay deferred), without
        # Model.__init__'s setattr per field and its two signals (~25 µs a model, four
        # models a request): the values go straight into the instance's __dict__.
        instance = self.new(self.model)
        fields = instance.__dict__
        fields.update(zip(self.attnames, values, strict=True))
        fields["_state"] = state = ModelState()
        state.adding = False
        state.db = DEFAULT_DB_ALIAS  # (``connection`` is the default database's)
        return instance


def _is_plain_json(field: Any, convert: Any) -> bool:
    return (
        isinstance(field, models.JSONField)
        and field.decoder is None
        and getattr(convert, "__func__", None) is models.JSONField.from_db_value
    )


_DECODER = json.JSONDecoder()
_decode_json = _DECODER.decode
# The C scanner decode() calls after skipping whitespace (not in the stubs).
_scan_json = _DECODER.scan_once  # type: ignore[attr-defined]


def _json_from_db(value: Any, expression: Any, connection: Any) -> Any:
    """``JSONField.from_db_value`` for a column of a JSONField without a decoder of its own
    (its text is the database's JSON): the same value, in one call fewer and without its
    checks for key transforms (a column is none). PostgreSQL writes a jsonb value without
    surrounding whitespace, so the scanner reads it whole; anything else takes
    ``json.loads``'s own way."""
    if value is None:
        return None
    if type(value) is not str:
        return expression.target.from_db_value(value, expression, connection)
    try:
        decoded, end = _scan_json(value, 0)
    except (StopIteration, json.JSONDecodeError):  # (not JSON: as json.loads finds it)
        end = -1
    if end == len(value):
        return decoded
    try:
        return _decode_json(value)
    except json.JSONDecodeError:
        return value


MEMBERSHIP = ModelColumns(Membership, "m")
USER = ModelColumns(User, "u", leave_out=("password",))
ORG = ModelColumns(Organization, "o")

# The membership, its user and its org; joined by whoever names the credential's table.
MEMBER_COLUMNS = f"{MEMBERSHIP.sql}, {USER.sql}, {ORG.sql}"
MEMBER_JOINS = (
    f"JOIN {User._meta.db_table} u ON u.id = m.user_id "
    f"JOIN {Organization._meta.db_table} o ON o.id = m.org_id"
)
MEMBER_WIDTH = len(MEMBERSHIP) + len(USER) + len(ORG)


def in_org(org_sql: str, lookup_sql: str) -> str:
    """One statement that names the org of the transaction (``org_sql``: an expression that
    calls ``set_config('app.org_id', ..., true)`` and yields the org id) and THEN runs the
    lookup under that org's row-level security (tenancy.rls).

    The order is the executor's, not luck: both sides are fenced (``OFFSET 0``: never pulled
    up into one join tree), and the lookup is a LATERAL subquery that reads ``s.org``, so it
    can only be the inner side of a nested loop, run after its outer row (the org) exists.
    ``lookup_sql`` must use ``s.org`` in its WHERE clause. Parameters: the org's, then the
    lookup's.
    """
    return (
        f"SELECT t.* FROM (SELECT ({org_sql}) AS org OFFSET 0) s"  # noqa: S608
        f" CROSS JOIN LATERAL ({lookup_sql} OFFSET 0) t"
    )


def membership_from_row(row: Row, start: int = 0) -> Membership:
    """The Membership (with ``user`` and ``org`` attached) from ``MEMBER_COLUMNS`` at ``start``."""
    membership: Membership = MEMBERSHIP.build(row, start)
    attach(membership, _MEMBERSHIP_USER, USER.build(row, start + len(MEMBERSHIP)))
    attach(membership, _MEMBERSHIP_ORG, ORG.build(row, start + len(MEMBERSHIP) + len(USER)))
    return membership


_MEMBERSHIP_USER = Membership._meta.get_field("user")
_MEMBERSHIP_ORG = Membership._meta.get_field("org")


def attach(instance: models.Model, field: Any, related: models.Model) -> None:
    """``instance.<field> = related`` where the foreign key already holds ``related``'s id
    (read in the same row): the related object is cached as ``select_related`` caches it,
    without the assignment descriptor's checks (~8 µs a request for three of them)."""
    field.set_cached_value(instance, related)


def fetch_row(sql: str, params: Sequence[Any]) -> Row | None:
    """One row of a credential lookup. On PostgreSQL the statement is prepared on the
    connection the first time (then only executed: no parse, no plan). While queries are
    logged (counted, in tests) or execute wrappers are installed, it runs through Django's
    cursor wrapper, so they see it; otherwise it is executed directly (``_execute_prepared``)."""
    db = connections[DEFAULT_DB_ALIAS]  # (once: each use of the ``connection`` proxy looks it up)
    if db.vendor != "postgresql" or not settings.DATABASE_PREPARED_LOOKUPS:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    if db.connection is None:  # (what ensure_connection() checks first)
        db.ensure_connection()
    db.validate_thread_sharing()
    pg = db.connection
    if pg.prepare_threshold is None:
        # Django turns psycopg's preparing off (None), which also ignores prepare=True. Its
        # own cursors bind on the client and never prepare, so a threshold no statement
        # reaches on its own changes nothing for them and lets ours be prepared.
        pg.prepare_threshold = 2**31
    kept: tuple[object, dict[str, Any]] | None = getattr(pg, _KEPT_CURSORS, None)
    if kept is None or kept[0] is not _kept_generation[0]:
        kept = (_kept_generation[0], {})
        setattr(pg, _KEPT_CURSORS, kept)
    raw = kept[1].get(sql)
    if raw is None or raw.closed:
        raw = kept[1][sql] = _PreparedCursor(pg)
    logged = db.queries_logged
    if not logged and not db.execute_wrappers:
        found = _execute_prepared(db, pg, raw, sql, params)
        if found is not _NOT_PREPARED:
            return found
    cursor = db.make_debug_cursor(raw) if logged else db.make_cursor(raw)
    cursor.execute(sql, params)
    row = raw.fetchone()  # (the result is already in memory: nothing for Django to wrap)
    if logged and db.queries_log and db.queries_log[-1]["sql"] is None:
        # psycopg keeps no text for a prepared execution: log the statement as a client-side
        # binding would have sent it, so the query log reads like every other entry.
        db.queries_log[-1]["sql"] = _client_text(pg, sql, params)
    return row


_NOT_PREPARED: Any = object()


def _execute_prepared(db: Any, pg: Any, raw: Any, sql: str, params: Sequence[Any]) -> Any:
    """The row of ``sql``, already prepared on the connection, executed as psycopg's
    ``execute`` would send it (the same name, parameters and result format, its lock and
    its error for a failed statement) and under Django's error wrapping, without the two
    layers of per-call bookkeeping around that: Django's cursor wrapper, here only for
    logging and wrappers (when either is in use the lookup takes the ordinary way), and
    psycopg's cursor machinery (a fresh query object, the prepare bookkeeping, the result
    list): ~30k instructions of the worker's ~1.5M per key or JWT request (callgrind).
    A tracer that patches Django's or psycopg's ``execute`` (none is installed) does not see
    these executions; with ``DEBUG`` or a test's query capture they go the ordinary way.

    ``_NOT_PREPARED`` when it cannot be done that way: the statement is not (or no longer:
    psycopg forgets them on a rollback) prepared on this connection, or not yet by this kept
    cursor, a transaction must first be begun, or a pipeline is open; the ordinary way then
    runs it (and prepares it again)."""
    pgconn = pg.pgconn
    if raw._last_query is not sql:  # the kept cursor has not run it yet: no loaders either
        return _NOT_PREPARED
    if pg._pipeline is not None or not (
        pg.autocommit or pgconn.transaction_status == _IN_TRANSACTION
    ):
        return _NOT_PREPARED
    query = raw._convert_query(sql, params)  # psycopg's own conversion, on the kept cursor
    name = pg._prepared._names.get((query.query, query.types))
    if name is None:
        return _NOT_PREPARED
    db.validate_no_broken_transaction()
    with db.wrap_database_errors, pg.lock:
        if pgconn.status != _CONNECTION_OK:
            pg._check_connection_ok()  # raises psycopg's error for a closed connection
        pgconn.send_query_prepared(
            name, query.params, param_formats=query.formats, result_format=_TEXT
        )
        results = pg.wait(_execute_gen(pgconn))
        if len(results) != 1:  # (one statement: one result; psycopg's own check)
            raise _InternalError(f"got {len(results)} results from one statement")
        result = results[0]
        if result.status != _TUPLES_OK:
            raise _error_from_result(result, encoding=raw._encoding)
        if not result.ntuples:
            return None
        transformer = raw._tx  # the kept cursor's loaders (its statement's columns)
        transformer.set_pgresult(result)
        try:
            return transformer.load_row(0, tuple)
        finally:
            transformer.set_pgresult(None, set_loaders=False)  # (keeps no row of it)


def _prepared_cursor_class() -> type:
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        """Binds parameters on the server and prepares every statement it runs (Django's
        own cursors bind on the client, which cannot prepare)."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, prepare=True)

        @property
        def adapters(self) -> Any:
            if not settings.USE_TZ:
                return super().adapters
            # The connection's adapters with psycopg's compiled timestamptz loader, made
            # once per connection (registering it on each cursor's copy cost ~1%).
            adapters = _fast_adapters.get(self.connection)
            if adapters is None:
                adapters = type(super().adapters)(self.connection.adapters)
                adapters.register_loader(_TIMESTAMPTZ, _FAST_TIMESTAMPTZ)
                _fast_adapters[self.connection] = adapters
            return adapters

    return PreparedCursor


_fast_adapters: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()

# One cursor per statement and connection, kept open (on the psycopg connection: they go
# with it) and reused by every lookup of that statement on it. psycopg keeps a cursor's
# Transformer while it runs the same statement (the same ``str`` object: each lookup's text
# is made once), and with it the loaders of the result's 33 columns and the parameters'
# dumpers; a new cursor per lookup built them all again (the key's lookup: 77 -> 62 µs of
# CPU, measured alone). One per statement, so that keys, tokens and sessions served in turn
# by one connection do not make each other's again; there are a handful of statements. A
# kept cursor holds nothing of a request but the result of its last lookup the ordinary way
# (a row of the credential's tables, the session's with its password hash: what the worker
# reads on every request anyway), until its next one; a direct execution drops its own.
_KEPT_CURSORS = "_tenantry_credential_cursors"  # (generation, {statement: cursor})
_kept_generation = [object()]  # a new one makes every connection's kept cursor stale


@receiver(setting_changed)
def _forget_kept_cursors(*, setting: str, **kwargs: Any) -> None:
    if setting == "USE_TZ":  # the cursors' loaders depend on it (PreparedCursor.adapters)
        _fast_adapters.clear()
        _kept_generation[0] = object()


def _timestamptz_loader() -> tuple[Any, Any]:
    """psycopg's own timestamptz loader (compiled, with psycopg[binary]). Django registers
    a Python subclass on every connection that sets each value's zone to the connection's
    (``connection.timezone``: UTC with USE_TZ); its parsing was the costliest part of
    building the credential's rows. Django names the session's TimeZone UTC as well
    (``ensure_timezone``), and psycopg's loader gives the session's zone, so the values
    are the same datetimes, in ``datetime.UTC``."""
    from psycopg import postgres, pq

    oid = postgres.types["timestamptz"].oid
    return oid, postgres.adapters.get_loader(oid, pq.Format.TEXT)


if connection.vendor == "postgresql":
    from psycopg import pq
    from psycopg.errors import InternalError as _InternalError
    from psycopg.errors import error_from_result as _error_from_result
    from psycopg.generators import execute as _execute_gen

    _PreparedCursor: Any = _prepared_cursor_class()
    _IN_TRANSACTION = pq.TransactionStatus.INTRANS
    _CONNECTION_OK = pq.ConnStatus.OK
    _TUPLES_OK = pq.ExecStatus.TUPLES_OK
    _TEXT = pq.Format.TEXT
    _TIMESTAMPTZ, _FAST_TIMESTAMPTZ = _timestamptz_loader()


def _client_text(pg: Any, sql: str, params: Sequence[Any]) -> str:
    import psycopg

    return psycopg.ClientCursor(pg).mogrify(sql, params)

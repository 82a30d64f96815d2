"""The second wall: PostgreSQL row-level security on every table that carries ``org_id``.

The manager (``tenancy.managers``) refuses an unscoped query in Python; PostgreSQL repeats
the rule for whatever gets past it (a raw query, a join, a forgotten filter). Each tenant
table has RLS enabled AND forced (so even its owner is subject to it, unless that role has
``BYPASSRLS``) and one policy, for every command:

    org_id = NULLIF(current_setting('app.org_id', true), '')::bigint

A transaction that never named its org sees zero rows and may write none (``NULL`` equals
nothing). The org is named PER TRANSACTION, with ``set_config('app.org_id', ..., true)``
(:func:`org_transaction`, :func:`enter_org`), never per connection: when the transaction
ends the setting is gone, so a pooled connection cannot carry one request's org into the
next.

The roles (docs/deployment.md): an owner role runs the migrations and owns every table (it
has ``BYPASSRLS``: migrations and the functions it defines span orgs); the application
connects as a role that owns nothing and has ``NOBYPASSRLS``. Code that truly spans orgs
(the ``dangerously_unscoped`` sites of ``tests/tenancy/test_allow_list.py``: workers,
sweeps, a person's orgs, lookups by a token's hash) enters :func:`cross_org`, which
switches the transaction to the ``DATABASE_CROSS_ORG_ROLE`` (``BYPASSRLS``, owns nothing,
``NOLOGIN``; the application role is a member of it) for as long as the block lasts. The
two cross-org reads a key or session request may make instead call a ``SECURITY DEFINER``
function that answers that one question (apikeys migration 0004, orgs migration 0006): a
key's first request in a process, and a session on an org's host or acting in no org it
may (on ``api.<base>`` a session's row names the org it acts in, as a JWT names its own).

On SQLite (the ``make run`` local run) all of this is a no-op: the manager is the only wall.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.operations.base import Operation

ORG_SETTING = "app.org_id"
POLICY_NAME = "tenant_isolation"
POLICY_EXPRESSION = f"org_id = NULLIF(current_setting('{ORG_SETTING}', true), '')::bigint"


class OutsideTransactionError(RuntimeError):
    """``enter_org`` outside a transaction: the setting would end with its own statement."""


def _postgres(using: str) -> Any:
    connection = connections[using]
    return connection if connection.vendor == "postgresql" else None


def enter_org(org_id: Any, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Name the org of the current transaction for row-level security (PostgreSQL only).

    One statement. Must run inside ``transaction.atomic()``: outside one the setting would
    last for its own statement only, so that is refused loudly rather than failing as a
    silent "no rows" later.
    """
    connection = _postgres(using)
    if connection is None:
        return
    if not connection.in_atomic_block:
        raise OutsideTransactionError("enter_org() needs a transaction (transaction.atomic())")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [ORG_SETTING, str(int(org_id))])


@contextmanager
def org_transaction(org_id: Any, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """A transaction (or savepoint) whose rows are the org's (what every org-scoped request
    and page runs in: ``orgs.bases``).

    The org is named just before the block's first statement (whatever runs it: a query, a
    savepoint, a raw cursor), at the block's own level, so a savepoint rolled back later
    cannot undo it; a block that runs no statement costs no round trip at all (psycopg sends
    neither BEGIN nor COMMIT for it), which is what keeps a request whose only statement was
    its credential lookup at one round trip.
    """
    connection = _postgres(using)
    with transaction.atomic(using=using):
        if connection is None:
            yield
            return
        pending = [str(int(org_id))]

        def name_the_org_first(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
            if pending:
                value = pending.pop()  # (the set_config below passes through here too)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config(%s, %s, true)", [ORG_SETTING, value])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(name_the_org_first):
            yield


def cross_org_role() -> str:
    return str(getattr(settings, "DATABASE_CROSS_ORG_ROLE", "") or "")


@contextmanager
def cross_org(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """The explicit path for code that spans orgs (besides two ``SECURITY DEFINER`` lookups
    keyed by a key's hash and by a person; every ``dangerously_unscoped`` site is
    allow-listed in ``tests/tenancy/test_allow_list.py``): a transaction (or savepoint) that
    runs as the cross-org role, which bypasses row-level security; the role ends with the
    block.

    Querysets must be evaluated inside the block: a lazy one read after it runs as the
    application role again and finds no rows.
    """
    connection = _postgres(using)
    role = cross_org_role()
    if connection is None or not role:
        with transaction.atomic(using=using):
            yield
        return
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            # set_config('role', ...) is SET LOCAL ROLE; the role in force before comes back
            # at the end (the login role, or an enclosing block's).
            cursor.execute("SELECT current_user, set_config('role', %s, true)", [role])
            previous = cursor.fetchone()[0]
        yield
        if not outermost:  # (else the role ends with the transaction, at its COMMIT)
            # (An exception instead rolls the savepoint, and so the role, back.)
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('role', %s, true)", [previous])


# --- Migrations ---------------------------------------------------------------------------


class EnableTenantRowSecurity(Operation):
    """Enable and force row-level security on a tenant table, with the org policy.

    Reversible; PostgreSQL only (nothing happens on SQLite). The table must have ``org_id``.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str) -> None:
        self.table = table

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.table], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # the schema Django tracks does not change

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any,
                          to_state: Any) -> None:  # fmt: skip
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        for sql in (
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}",
            f"CREATE POLICY {POLICY_NAME} ON {table} USING ({POLICY_EXPRESSION})"
            f" WITH CHECK ({POLICY_EXPRESSION})",
        ):
            schema_editor.execute(sql, params=None)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any,
                           to_state: Any) -> None:  # fmt: skip
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        for sql in (
            f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ):
            schema_editor.execute(sql, params=None)

    def describe(self) -> str:
        return f"Enable and force row-level security on {self.table}"

    @property
    def migration_name_fragment(self) -> str:
        return f"row_security_{self.table}"


class CreateCrossOrgFunction(Operation):
    """Create one of the ``SECURITY DEFINER`` functions of the cross-org path (owned by the
    migrating role, which bypasses row-level security) and revoke it from PUBLIC: only the
    roles the migrate command grants may execute it. Reversible; PostgreSQL only.

    ``signature`` names the function with its argument types (``f(text[])``); ``create`` is
    its whole ``CREATE FUNCTION`` statement.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, signature: str, create: str) -> None:
        self.signature = signature
        self.create = create

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.signature, self.create], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # the schema Django tracks does not change

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any,
                          to_state: Any) -> None:  # fmt: skip
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(self.create, params=None)
        schema_editor.execute(f"REVOKE ALL ON FUNCTION {self.signature} FROM PUBLIC", params=None)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any,
                           to_state: Any) -> None:  # fmt: skip
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {self.signature}", params=None)

    def describe(self) -> str:
        return f"Create the cross-org function {self.signature}"

    @property
    def migration_name_fragment(self) -> str:
        return "cross_org_function"

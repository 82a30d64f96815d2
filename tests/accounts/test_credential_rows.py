"""The credential lookups build the same membership, user and org the ORM would."""

from datetime import UTC, datetime

import pytest

from accounts.credential_rows import MEMBER_COLUMNS, MEMBER_JOINS, fetch_row, membership_from_row
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SQL = f"SELECT {MEMBER_COLUMNS} FROM orgs_membership m {MEMBER_JOINS} WHERE m.id = %s"  # noqa: S608


@pytest.mark.parametrize("prepared", [True, False])
def test_rows_become_the_instances_the_orm_would_load(settings, prepared):
    settings.DATABASE_PREPARED_LOOKUPS = prepared
    made = MembershipFactory.create(role="developer")
    made.org.settings = {"audit_retention_days": 30, "nested": {"a": [1, 2]}}
    made.org.save()
    made.user.last_login = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    made.user.save()
    expected = Membership.objects.for_org(made.org).select_related("user", "org").get()

    row = fetch_row(SQL, [made.pk])
    assert row is not None
    built = membership_from_row(row)

    for model_instance, orm_instance in [
        (built, expected),
        (built.org, expected.org),
        (built.user, expected.user),
    ]:
        fields = [f for f in type(orm_instance)._meta.concrete_fields if f.name != "password"]
        for field in fields:
            value = getattr(model_instance, field.attname)
            assert value == getattr(orm_instance, field.attname)
            if isinstance(value, datetime):  # the same zone object too, to the microsecond
                assert value.tzinfo is getattr(orm_instance, field.attname).tzinfo
    assert built.user.last_login == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert built.org.settings["nested"] == {"a": [1, 2]}
    assert built.user.is_active is True


def test_the_password_hash_is_never_read():
    made = MembershipFactory.create()
    row = fetch_row(SQL, [made.pk])
    assert row is not None
    built = membership_from_row(row)
    assert "password" in built.user.get_deferred_fields()


def test_a_missing_row_is_none():
    assert fetch_row(SQL, [0]) is None


@pytest.mark.parametrize("prepared", [True, False])
def test_lookups_are_prepared_once_per_connection_on_postgresql(settings, prepared):
    """Parsing and planning the four-table join cost more than running it: prepared, the
    server only executes it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.DATABASE_PREPARED_LOOKUPS = prepared
    made = MembershipFactory.create()
    sql = f"{SQL} /* prepared={prepared} */"
    with CaptureQueriesContext(connection) as captured:
        for _ in range(2):
            assert fetch_row(sql, [made.pk]) is not None
    assert len(captured) == 2  # counted and logged like any query, with its parameters
    assert all(f"m.id = {made.pk}" in q["sql"] for q in captured.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute(  # the server holds the text with $1 where we wrote %s
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%/* prepared={prepared} */"],
        )
        assert cursor.fetchone()[0] == (1 if prepared else 0)


def test_one_cursor_per_connection_serves_every_lookup_with_fresh_rows():
    """The lookups reuse one cursor per connection (psycopg keeps its loaders while it runs
    the same statement); each lookup still reads the row as it is now, and a new
    connection gets a cursor of its own."""
    from django.db import connection

    from accounts import credential_rows

    made = MembershipFactory.create(role="developer")
    first = fetch_row(SQL, [made.pk])
    cursor = getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL]
    Membership.objects.for_org(made.org).filter(pk=made.pk).update(role="admin")
    second = fetch_row(SQL, [made.pk])
    assert getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL] is cursor
    assert first is not None
    assert second is not None
    assert membership_from_row(first).role == "developer"
    assert membership_from_row(second).role == "admin"  # read again, not remembered
    assert fetch_row(SQL, [0]) is None  # and no row is no row, after one was found


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_gets_its_own_cursor():
    from django.db import connection

    from accounts import credential_rows

    made = MembershipFactory.create()
    assert fetch_row(SQL, [made.pk]) is not None
    before = getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL]
    connection.close()
    assert fetch_row(SQL, [made.pk]) is not None
    assert getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL] is not before


def test_changing_use_tz_forgets_the_kept_cursors(settings):
    from django.db import connection

    from accounts import credential_rows

    made = MembershipFactory.create()
    assert fetch_row(SQL, [made.pk]) is not None
    before = getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL]
    settings.USE_TZ = False
    row = fetch_row(SQL, [made.pk])
    assert getattr(connection.connection, credential_rows._KEPT_CURSORS)[1][SQL] is not before
    assert row is not None


def test_statements_served_in_turn_keep_a_cursor_each():
    """Keys, tokens and sessions served in turn by one connection: each statement keeps its
    own cursor (and psycopg its loaders), and each answers its own rows."""
    from django.db import connection

    from accounts import credential_rows

    made = MembershipFactory.create(role="developer")
    other_sql = f"{SQL} AND m.role = %s"
    for _ in range(2):
        assert fetch_row(SQL, [made.pk]) is not None
        assert fetch_row(other_sql, [made.pk, "owner"]) is None
    kept = getattr(connection.connection, credential_rows._KEPT_CURSORS)[1]
    assert kept[SQL] is not kept[other_sql]
    assert kept[SQL]._last_query is SQL  # psycopg keeps its Transformer for it


@pytest.fixture
def direct_answers(monkeypatch):
    """Whether each lookup was answered by executing its prepared statement directly
    (True) or went the ordinary way through the cursors (False)."""
    from accounts import credential_rows

    answers: list[bool] = []
    real = credential_rows._execute_prepared

    def spy(*args):
        try:
            found = real(*args)
        except Exception:
            answers.append(True)  # (it failed executing the statement directly)
            raise
        answers.append(found is not credential_rows._NOT_PREPARED)
        return found

    monkeypatch.setattr(credential_rows, "_execute_prepared", spy)
    return answers


def test_a_prepared_lookup_is_executed_directly_and_reads_the_same_row(direct_answers):
    made = MembershipFactory.create(role="developer")
    ordinary = fetch_row(SQL, [made.pk])  # the first: prepared, the ordinary way
    direct = fetch_row(SQL, [made.pk])
    assert direct_answers == [False, True]
    assert direct == ordinary
    assert type(direct) is type(ordinary)
    Membership.objects.for_org(made.org).filter(pk=made.pk).update(role="admin")
    again = fetch_row(SQL, [made.pk])
    assert again is not None
    assert membership_from_row(again).role == "admin"  # read again, not remembered
    assert fetch_row(SQL, [0]) is None
    assert direct_answers == [False, True, True, True]


def test_a_statement_psycopg_forgot_is_prepared_again_the_ordinary_way(direct_answers):
    """psycopg forgets (and deallocates) its prepared statements on a rollback: the next
    lookup goes the ordinary way, which prepares it again."""
    from django.db import transaction

    made = MembershipFactory.create()
    for _ in range(2):
        assert fetch_row(SQL, [made.pk]) is not None
    with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint, rolled back
        raise_after_a_statement()
    assert fetch_row(SQL, [made.pk]) is not None
    assert fetch_row(SQL, [made.pk]) is not None
    assert direct_answers == [False, True, False, True]


def raise_after_a_statement():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raise RuntimeError


def test_a_failing_prepared_lookup_raises_djangos_error(direct_answers):
    from django.db import DataError, transaction

    sql = "SELECT 1 / %s::int"
    assert fetch_row(sql, [1]) == (1,)
    with pytest.raises(DataError), transaction.atomic():
        fetch_row(sql, [0])  # division by zero
    assert direct_answers == [False, True]
    assert fetch_row(sql, [1]) == (1,)  # the connection goes on


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_as_in_production_the_lookup_is_direct_and_a_lost_connection_is_djangos_error(
    direct_answers,
):
    # A request's credential lookup runs outside any transaction (orgs.bases authenticates
    # before it opens one): the direct execution in autocommit reads the row as it is now,
    # and a backend that went away is Django's OperationalError, marked on the connection.
    from django.db import OperationalError, connection, connections

    made = MembershipFactory.create(role="developer")
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
    first = fetch_row(SQL, [made.pk])
    assert fetch_row(SQL, [made.pk]) == first
    assert direct_answers[1] is True  # (the first may be too, on a pooled connection)
    pid = connection.connection.info.backend_pid
    killer = connections.create_connection("default")  # another session ends this one's
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    with pytest.raises(OperationalError):
        fetch_row(SQL, [made.pk])
    assert connection.errors_occurred
    connection.close_if_unusable_or_obsolete()
    assert direct_answers[2] is True  # (the lost one was direct)
    assert fetch_row(SQL, [made.pk]) == first  # on another connection

"""ModelColumns.build makes the instance Model.from_db makes, without Model.__init__."""

import pytest
from django.db import connection
from django.db.models.signals import post_init

from accounts.credential_rows import MEMBER_COLUMNS, MEMBER_JOINS, ORG, USER, fetch_row
from accounts.credential_rows import MEMBERSHIP as MEMBERSHIP_COLUMNS
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SQL = f"SELECT {MEMBER_COLUMNS} FROM orgs_membership m {MEMBER_JOINS} WHERE m.id = %s"  # noqa: S608


def _row(membership):
    row = fetch_row(SQL, [membership.pk])
    assert row is not None
    return row


def _by_from_db(columns, row, start):
    values = list(row[start : start + len(columns)])
    for index, convert, column in columns.converters:
        values[index] = convert(values[index], column, connection)
    return columns.model.from_db(connection.alias, columns.attnames, values)


def test_build_is_from_db():
    made = MembershipFactory.create(role="developer")
    made.org.settings = {"rate_limits": {"key": "10/m"}}
    made.org.save()
    row = _row(made)
    start = 0
    for columns in (MEMBERSHIP_COLUMNS, USER, ORG):
        built = columns.build(row, start)
        expected = _by_from_db(columns, row, start)
        start += len(columns)
        assert type(built) is type(expected)
        assert {k: v for k, v in vars(built).items() if k != "_state"} == {
            k: v for k, v in vars(expected).items() if k != "_state"
        }
        assert built.get_deferred_fields() == expected.get_deferred_fields()
        assert (built._state.adding, built._state.db) == (False, expected._state.db)
        assert built == expected


def test_a_deferred_field_still_loads_on_access():
    made = MembershipFactory.create()
    user = USER.build(_row(made), len(MEMBERSHIP_COLUMNS))
    assert "password" in user.get_deferred_fields()
    assert user.password == made.user.password  # read from the database on access


def test_with_a_post_init_listener_the_orm_builds_it():
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(sender)

    post_init.connect(listener)
    try:
        made = MembershipFactory.create()
        seen.clear()
        USER.build(_row(made), len(MEMBERSHIP_COLUMNS))
    finally:
        post_init.disconnect(listener)
    assert seen == [USER.model]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "null",
        "{}",
        "[]",
        '{"a": [1, 2.5, null, true]}',
        '"x"',
        "3",
        "\ufeff{}",
        "not json",
        b"[1]",
        # what PostgreSQL never writes, read as json.loads reads it
        "",
        " [1]",
        "[1] ",
        "[1] [2]",
        "[1]x",
        "-1.5e3",
        '{"a": 1',
    ],
)
def test_json_columns_convert_as_djangos_jsonfield(text):
    from accounts.credential_rows import _json_from_db
    from orgs.models import Organization

    field = Organization._meta.get_field("settings")
    column = field.get_col("o")
    expected = field.from_db_value(text, column, connection)
    assert _json_from_db(text, column, connection) == expected
    assert any(convert is _json_from_db for _, convert, _ in ORG.converters)

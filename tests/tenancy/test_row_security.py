"""PostgreSQL row-level security (tenancy.rls), read from the catalog and tried as the
application role with raw SQL.

The suite's own connection is the owner (a superuser: it bypasses RLS, so fixtures write
freely); these tests switch their transaction to the application role of the harness
(``SET LOCAL ROLE tenantry_app``: NOBYPASSRLS, owns nothing), which is what the servers of
``tests/ops`` connect as.
"""

from contextlib import contextmanager

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from orgs.models import Membership
from tenancy.rls import ORG_SETTING, POLICY_NAME, cross_org, enter_org, org_transaction
from tests.factories import MembershipFactory, OrgFactory, UserFactory
from tests.harness.postgres import APP_ROLE

pytestmark = pytest.mark.django_db


def tenant_tables() -> set[str]:
    """Every installed model's table with an ``org`` or ``org_id`` field (whatever app it is
    in, whichever helper added it): each must be covered."""
    tables = set()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = {f.column for f in model._meta.concrete_fields}
        names = {f.name for f in model._meta.concrete_fields}
        if "org_id" in columns or "org" in names or "org_id" in names:
            tables.add(model._meta.db_table)
    return tables


@contextmanager
def as_app_role():
    """A savepoint whose statements run as the application role; the role ends with it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        yield cursor
        cursor.execute("SET LOCAL ROLE NONE")  # (an exception rolls the savepoint back)


def _count(cursor, table):
    cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
    return cursor.fetchone()[0]


@pytest.fixture
def two_orgs():
    a, b = OrgFactory.create(), OrgFactory.create()
    for org in (a, b):
        for _ in range(2):
            MembershipFactory.create(org=org)
    return a, b


def test_the_enumeration_finds_the_tenant_tables():
    assert {"orgs_membership", "apikeys_apikey", "audit_auditevent"} <= tenant_tables()


def test_every_tenant_table_has_row_security_enabled_and_forced():
    tables = sorted(tenant_tables())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relkind = 'r' AND relname = ANY(%s)",
            [tables],
        )
        found = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
    assert set(found) == set(tables)
    assert [t for t, flags in found.items() if flags != (True, True)] == []


def test_every_tenant_table_has_the_org_policy_for_every_command():
    tables = sorted(tenant_tables())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, cmd, qual, with_check FROM pg_policies"
            " WHERE policyname = %s AND tablename = ANY(%s)",
            [POLICY_NAME, tables],
        )
        policies = {row[0]: row[1:] for row in cursor.fetchall()}
    assert set(policies) == set(tables)
    for table, (command, using, check) in policies.items():
        assert command == "ALL", table
        for expression in (using, check):
            assert ORG_SETTING in expression, table
            assert "org_id" in expression, table


def test_the_app_role_owns_nothing_and_cannot_bypass_row_security():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = %s",
            [APP_ROLE],
        )
        assert cursor.fetchone()[0] == 0


def test_without_an_org_the_app_role_sees_no_row_of_any_tenant_table(two_orgs):
    assert Membership.dangerously_unscoped.count() >= 4  # the owner sees them
    with as_app_role() as cursor:
        assert {table: _count(cursor, table) for table in sorted(tenant_tables())} == {
            table: 0 for table in sorted(tenant_tables())
        }


def test_with_org_a_the_app_role_sees_only_org_a_rows(two_orgs):
    a, b = two_orgs
    with as_app_role() as cursor:
        enter_org(a.pk)
        cursor.execute("SELECT DISTINCT org_id FROM orgs_membership")
        assert [row[0] for row in cursor.fetchall()] == [a.pk]
        cursor.execute("SELECT count(*) FROM orgs_membership WHERE org_id = %s", [b.pk])
        assert cursor.fetchone()[0] == 0


def test_with_org_a_an_insert_for_org_b_is_refused(two_orgs):
    a, b = two_orgs
    user = UserFactory.create()
    with as_app_role():
        enter_org(a.pk)
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Membership.objects.create(org=b, user=user, role="member")
    with as_app_role():
        enter_org(a.pk)
        Membership.objects.create(org=a, user=user, role="member")  # its own org: fine


def test_with_org_a_a_row_cannot_be_moved_to_org_b(two_orgs):
    a, b = two_orgs
    row = Membership.objects.for_org(a).earliest("pk")
    move = "UPDATE orgs_membership SET org_id = %s WHERE id = %s"
    with as_app_role() as cursor:
        enter_org(a.pk)
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(move, [b.pk, row.pk])


def test_cross_org_is_the_explicit_way_past_the_policy_and_ends_with_its_block(two_orgs):
    with as_app_role() as cursor:
        with cross_org():
            assert _count(cursor, "orgs_membership") >= 4
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
        assert _count(cursor, "orgs_membership") == 0


def test_enter_org_refuses_to_run_outside_a_transaction():
    from tenancy.rls import OutsideTransactionError

    # Outside the test's atomic block: what a request without its transaction would do.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(OutsideTransactionError):
            enter_org(1)
    finally:
        connection.in_atomic_block = saved


@pytest.mark.django_db(transaction=True)
def test_the_org_setting_ends_with_its_transaction():
    org = OrgFactory.create()
    with org_transaction(org.pk), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [ORG_SETTING])
        assert cursor.fetchone()[0] == str(org.pk)
    with connection.cursor() as cursor:  # the same (pooled) connection, the next transaction
        cursor.execute("SELECT current_setting(%s, true)", [ORG_SETTING])
        assert cursor.fetchone()[0] in (None, "")


def test_the_key_hash_function_names_the_key_org_for_the_transaction_only(org):
    from apikeys.models import APIKey
    from apikeys.services import api_key_create
    from audit.actors import Actor

    creator = MembershipFactory.create(org=org, role="admin")
    key, _ = api_key_create(org=org, actor=Actor.system(), creator=creator, name="k")
    key_hash = APIKey.objects.for_org(org).get(pk=key.pk).key_hash
    with as_app_role() as cursor:
        cursor.execute("SELECT tenantry_enter_org_by_key_hash(%s)", [[key_hash]])
        assert cursor.fetchone()[0] == org.pk
        cursor.execute("SELECT id FROM apikeys_apikey")
        assert [row[0] for row in cursor.fetchall()] == [key.pk]
        cursor.execute("SELECT tenantry_enter_org_by_key_hash(%s)", [["0" * 64]])
        assert cursor.fetchone()[0] is None
        assert _count(cursor, "apikeys_apikey") == 0


def test_each_credential_lookup_finds_its_member_as_the_app_role(org, other_org, sign_in):
    """The statements of the key, JWT and session credentials, run as the app role with no
    org named beforehand: each names its own org and finds the row under the policy."""
    from accounts.credential_rows import fetch_row, membership_from_row
    from accounts.selectors import membership_for_access_token
    from accounts.services import browser_session_open
    from accounts.session_auth import _SESSION_AND_MEMBERSHIP, _SESSION_ROW_WIDTH, _memberships_of
    from apikeys.authentication import _key_lookup, _key_params
    from apikeys.crypto import candidate_digests
    from apikeys.services import api_key_create
    from audit.actors import Actor, RequestContext

    member = MembershipFactory.create(org=org, role="admin")
    MembershipFactory.create(org=other_org, user=member.user)
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=member, name="k")
    pair = sign_in(member)
    digests = candidate_digests(raw)
    with as_app_role():
        assert fetch_row(_key_lookup(len(digests)), _key_params(digests)) is not None
        cursor = connection.cursor()
        cursor.execute("SELECT current_setting(%s, true)", [ORG_SETTING])
        assert cursor.fetchone()[0] == str(org.pk)
    with as_app_role():
        found = membership_for_access_token(pair.access_token)
        assert found is not None
        assert found[0].pk == member.pk
    with as_app_role():
        assert {m.org_id for m in _memberships_of(member.user_id)} == {org.pk, other_org.pk}
    session_key = browser_session_open(
        user=member.user, org_id=other_org.pk, context=RequestContext()
    )
    with as_app_role():  # the session's row, with the membership it acts in
        row = fetch_row(_SESSION_AND_MEMBERSHIP, [None, session_key, timezone.now()])
        assert row is not None
        assert membership_from_row(row, _SESSION_ROW_WIDTH).org_id == other_org.pk


def test_an_org_view_may_not_take_the_cross_org_path():
    from orgs.bases import OrgScopedViewSet, OrgView

    for base in (OrgView, OrgScopedViewSet):
        with pytest.raises(TypeError, match="may not span orgs"):
            type("Spanning", (base,), {"spans_orgs": True})


def test_every_org_scoped_route_runs_as_the_app_role_in_its_org():
    """The URLconf's views on the org bases never switch to the cross-org role; those that
    do are on the bases docs/deployment.md lists (public, signed-in)."""
    from orgs.bases import OrgView, PublicView, SignedInView
    from tests.routes import api_routes

    spanning = set()
    for route in api_routes():
        view = route.view_class
        assert isinstance(view, type), route
        if issubclass(view, OrgView):
            assert not view.spans_orgs, route
        elif getattr(view, "spans_orgs", False):
            assert issubclass(view, PublicView | SignedInView), route
            spanning.add(route.template)
    assert {"/api/auth/refresh", "/api/orgs"} <= spanning


def test_an_org_transaction_names_its_org_before_its_first_statement_even_a_savepoint(two_orgs):
    a, _ = two_orgs
    with as_app_role() as cursor, org_transaction(a.pk):
        # The first statement is the savepoint of a block that then rolls back: the org was
        # named before it, at the transaction's own level, and survives the rollback.
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute("SELECT 1 / 0")
        cursor.execute("SELECT DISTINCT org_id FROM orgs_membership")
        assert [row[0] for row in cursor.fetchall()] == [a.pk]


def test_the_key_lookup_naming_a_remembered_org_reads_only_that_org(org, other_org):
    """The steady-state key statement (the org remembered by the process, named with
    set_config) run as the app role: the key's own org finds it, another org finds nothing."""
    from accounts.credential_rows import fetch_row
    from apikeys.authentication import _key_lookup_in_known_org
    from apikeys.crypto import candidate_digests
    from apikeys.services import api_key_create
    from audit.actors import Actor

    member = MembershipFactory.create(org=org, role="admin")
    MembershipFactory.create(org=other_org)
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=member, name="k")
    digests = candidate_digests(raw)
    lookup = _key_lookup_in_known_org(len(digests))
    with as_app_role():
        assert fetch_row(lookup, [str(other_org.pk), *digests]) is None
    with as_app_role():
        row = fetch_row(lookup, [str(org.pk), *digests])
        assert row is not None
        cursor = connection.cursor()
        cursor.execute("SELECT current_setting(%s, true)", [ORG_SETTING])
        assert cursor.fetchone()[0] == str(org.pk)

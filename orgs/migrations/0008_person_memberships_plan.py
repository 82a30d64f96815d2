"""``tenantry_person_memberships`` (0006) answers the same rows, planned better. PostgreSQL only.

The session credential's statement joins the function's rows to the person and the org. A
set-returning function is estimated at 1,000 rows unless told otherwise, so PostgreSQL
hashed the whole person table to join them (2.7 ms with 10,000 people, on every
session-authenticated request; bench/profiles/plans.txt). A person has a handful of
memberships: ``ROWS 3`` makes the join an index lookup by the person's primary key. And a
``LANGUAGE sql`` function that is not inlined (``SECURITY DEFINER`` never is) plans its query
again on every call; PL/pgSQL keeps the plan for the connection.

``CREATE OR REPLACE`` keeps the function's owner and privileges (revoked from PUBLIC, granted
to the application role).
"""

from typing import Any

from django.db import migrations

BEFORE = """
CREATE OR REPLACE FUNCTION tenantry_person_memberships(person bigint) RETURNS SETOF orgs_membership
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT m.* FROM orgs_membership m
    WHERE m.user_id = person AND m.status = 'active'
    ORDER BY m.created_at, m.id
$$
"""

AFTER = """
CREATE OR REPLACE FUNCTION tenantry_person_memberships(person bigint) RETURNS SETOF orgs_membership
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT ROWS 3 AS $$
BEGIN
    RETURN QUERY SELECT m.* FROM orgs_membership m
    WHERE m.user_id = person AND m.status = 'active'
    ORDER BY m.created_at, m.id;
END
$$
"""


def _replace(create: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0007_org_mfa_required"),
    ]

    operations = [
        migrations.RunPython(_replace(AFTER), _replace(BEFORE), elidable=False),
    ]

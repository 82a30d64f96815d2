"""The one cross-org read a session's API request makes: the person's own active memberships.

``tenantry_person_memberships(user_id)`` is ``SECURITY DEFINER`` (owned by the migrating
owner role, ``BYPASSRLS``): keyed by one person, it returns that person's active membership
rows in every org, oldest first, and nothing else. The session credential picks its org
among them and names it for the transaction (tenancy.rls). PostgreSQL only.
"""

from django.db import migrations

from tenancy.rls import CreateCrossOrgFunction

CREATE = """
CREATE FUNCTION tenantry_person_memberships(person bigint) RETURNS SETOF orgs_membership
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT m.* FROM orgs_membership m
    WHERE m.user_id = person AND m.status = 'active'
    ORDER BY m.created_at, m.id
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0005_row_security"),
    ]

    operations = [
        CreateCrossOrgFunction("tenantry_person_memberships(bigint)", CREATE),
    ]

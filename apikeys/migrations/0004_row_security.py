"""Row-level security on the keys (tenancy.rls), and the one cross-org read a key's request
needs: which org a presented key's hash belongs to. PostgreSQL only.

``tenantry_enter_org_by_key_hash(hashes)`` is ``SECURITY DEFINER``: it runs as the owner
(the migrating role, ``BYPASSRLS``), looks the key's org up by its hash, names that org for
the caller's transaction (``set_config('app.org_id', ..., true)``) and returns it (NULL for
no key). It reveals nothing else; the key's own row is then read under the org's policy like
any other. The application role may execute it; PUBLIC may not.
"""

from django.db import migrations

from tenancy.rls import CreateCrossOrgFunction, EnableTenantRowSecurity

CREATE = """
CREATE FUNCTION tenantry_enter_org_by_key_hash(hashes text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    found_org bigint;
BEGIN
    SELECT k.org_id INTO found_org FROM apikeys_apikey k WHERE k.key_hash = ANY(hashes) LIMIT 1;
    PERFORM set_config('app.org_id', COALESCE(found_org::text, ''), true);
    RETURN found_org;
END;
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0003_rate_limit"),
    ]

    operations = [
        EnableTenantRowSecurity("apikeys_apikey"),
        CreateCrossOrgFunction("tenantry_enter_org_by_key_hash(text[])", CREATE),
    ]

"""Row-level security on this app's tenant tables (tenancy.rls): PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_tenant_manager_dangerously_unscoped"),
    ]

    operations = [
        EnableTenantRowSecurity("accounts_tokenfamily"),
        EnableTenantRowSecurity("accounts_refreshtoken"),
    ]

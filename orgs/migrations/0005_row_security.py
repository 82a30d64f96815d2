"""Row-level security on this app's tenant tables (tenancy.rls): PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0004_merge_email_domains_and_tenancy"),
    ]

    operations = [
        EnableTenantRowSecurity("orgs_membership"),
        EnableTenantRowSecurity("orgs_invitation"),
    ]

"""Row-level security on this app's tenant tables (tenancy.rls): PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
    ]

    operations = [
        EnableTenantRowSecurity("usage_dailyusage"),
    ]

"""Row-level security on pre-write hooks (tenancy.rls): an org's hooks are read and written
only in a transaction that names that org. PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0001_initial"),
    ]

    operations = [
        EnableTenantRowSecurity("hooks_prewritehook"),
    ]

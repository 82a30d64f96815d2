"""Row-level security on this app's tenant tables (tenancy.rls): PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_append_only"),
    ]

    operations = [
        EnableTenantRowSecurity("audit_auditevent"),
        EnableTenantRowSecurity("audit_outboxevent"),
    ]

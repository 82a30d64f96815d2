"""Row-level security on this app's tenant tables (tenancy.rls): PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_tenant_manager_dangerously_unscoped"),
    ]

    operations = [
        EnableTenantRowSecurity("webhooks_webhookendpoint"),
        EnableTenantRowSecurity("webhooks_webhookdelivery"),
    ]

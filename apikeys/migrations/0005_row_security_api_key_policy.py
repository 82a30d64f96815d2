"""Joins the API-key policy (0004_api_key_policy) and row-level security (0004_row_security),
and puts the policy table under row-level security too (tenancy.rls). PostgreSQL only."""

from django.db import migrations

from tenancy.rls import EnableTenantRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0004_api_key_policy"),
        ("apikeys", "0004_row_security"),
    ]

    operations = [
        EnableTenantRowSecurity("apikeys_apikeypolicy"),
    ]

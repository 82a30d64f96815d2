"""``manage.py migrate`` as the owner role when ``DATABASE_OWNER_URL`` is set.

Django's own command, with two differences: ``--database`` defaults to the ``owner`` alias
when settings define one (the application's role may not create or alter tables), and after
migrating it grants the application role and the cross-org role what they need on every
table, sequence and function, and sets the same as default privileges for what later
migrations create (idempotent; PostgreSQL only; nothing to do when one role does it all).
"""

from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS, connections

from tenancy.rls import cross_org_role

OWNER_ALIAS = "owner"


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " As the owner role (DATABASE_OWNER_URL) when it is set."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        if OWNER_ALIAS in settings.DATABASES:
            parser.set_defaults(database=OWNER_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        grant_application_roles(using=options["database"])


def grant_application_roles(*, using: str) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    owner = connection.settings_dict.get("USER")
    app = connections[DEFAULT_DB_ALIAS].settings_dict.get("USER")
    roles = [role for role in (app, cross_org_role()) if role and role != owner]
    if not roles:
        return
    quote = connection.ops.quote_name
    grantees = ", ".join(quote(role) for role in roles)
    statements = [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {grantees}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantees}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {grantees}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {grantees}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {grantees}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO {grantees}",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)

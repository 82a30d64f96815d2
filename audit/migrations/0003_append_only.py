"""Make the audit table append-only on PostgreSQL.

A trigger refuses every UPDATE, and every DELETE except inside a transaction that set
``tenantry.audit_purge = 'on'`` with SET LOCAL, which only ``manage.py purge_audit`` does.
It guards against application code, the admin and ad-hoc ORM scripts; it is not a defence
against a database superuser (who can drop the trigger). TRUNCATE is not covered: the
test suite empties tables with it, and the application's database role should not hold the
TRUNCATE privilege in production.

The one-command local run uses SQLite, which gets no trigger.
"""

from django.db import migrations

CREATE = [
    """
CREATE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tenantry.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Retention purges go through manage.py purge_audit.';
END;
$$
""",
    """
CREATE TRIGGER audit_event_append_only
BEFORE UPDATE OR DELETE ON audit_auditevent
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            # params=None: no placeholder parsing, the function body contains a literal %.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_outboxevent"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]

"""``manage.py purge_audit [--dry-run]``: delete audit events past each org's retention.

Retention is ``Organization.settings["audit_retention_days"]``, else ``AUDIT_RETENTION_DAYS``.
The only way audit rows are ever deleted; every purge is itself audited (``audit.purged``).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.actors import Actor
from audit.retention import audit_purge


class Command(BaseCommand):
    help = "Delete audit events older than each organization's retention (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, delete nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        purges = audit_purge(actor=Actor.system("manage.py purge_audit"), dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        for purge in purges:
            scope = f"org {purge.org_id}" if purge.org_id is not None else "platform events"
            self.stdout.write(
                f"{verb} {purge.count} audit events of {scope} "
                f"older than {purge.retention_days} days"
            )
        total = sum(purge.count for purge in purges)
        self.stdout.write(self.style.SUCCESS(f"{verb} {total} audit events in total"))

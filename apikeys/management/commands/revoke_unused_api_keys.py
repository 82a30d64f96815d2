"""``manage.py revoke_unused_api_keys [--dry-run]``: the daily unused-key sweep.

For each org whose API-key policy sets ``revoke_unused_after_days``: revoke the keys unused
that long (at least a week after their owners were emailed), and email the owners about the
keys that will get there within a week. Audited as the system (``api_key.revoked_unused``,
``api_key.unused_warning_sent``). Run it daily; running it twice a day changes nothing more.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apikeys.services import api_keys_sweep_unused
from audit.actors import Actor
from orgs.models import Organization
from tenancy.rls import org_transaction


class Command(BaseCommand):
    help = "Revoke API keys unused for longer than their org's policy allows (daily; audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would happen; change nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        actor = Actor.system("manage.py revoke_unused_api_keys")
        revoked = warned = 0
        # One org at a time, each in its own transaction, scoped like any request.
        for org in Organization.objects.order_by("pk").iterator():
            with org_transaction(org.pk):  # in the org, under its row-level security
                result = api_keys_sweep_unused(org=org, actor=actor, dry_run=dry_run)
            for key in result.revoked:
                verb = "Would revoke" if dry_run else "Revoked"
                self.stdout.write(f"{verb} {org.slug}: {key.name} ({key.prefix}…{key.last_four})")
            for key in result.warned:
                verb = "Would warn about" if dry_run else "Warned the owners about"
                self.stdout.write(f"{verb} {org.slug}: {key.name} ({key.prefix}…{key.last_four})")
            revoked += len(result.revoked)
            warned += len(result.warned)
        verb = "Would revoke" if dry_run else "Revoked"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {revoked} unused keys; {warned} owners' notices")
        )

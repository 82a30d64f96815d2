"""``manage.py revokeapikey --org SLUG --key ID``: revoke one key, at once. Audited as the
system (``api_key.revoked``); a key of another org is not found."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apikeys.models import APIKey
from apikeys.services import api_key_revoke
from audit.actors import Actor
from orgs.models import Organization
from tenancy.rls import cross_org


class Command(BaseCommand):
    help = "Revoke an API key of an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--key", required=True, type=int, help="the key's id")

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(slug=options["org"].lower()).first()
        if org is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        key = APIKey.objects.for_org(org).filter(pk=options["key"]).first()
        if key is None:
            raise CommandError(f"No key {options['key']} in {org.slug}")
        if key.revoked_at is not None:
            raise CommandError(f"Key {key.pk} ({key.name}) is already revoked")
        api_key_revoke(org=org, actor=Actor.system("manage.py revokeapikey"), key=key)
        self.stdout.write(f"Revoked key {key.pk} ({key.name}); it fails from the next request.")

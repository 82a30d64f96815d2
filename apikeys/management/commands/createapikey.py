"""``manage.py createapikey --org SLUG --user EMAIL --name NAME [--expires ...]``.

Prints the raw key once, on stdout and nowhere else. ``--expires`` takes an ISO 8601
date-time or a number of days (``30d``).
"""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apikeys.services import api_key_create
from audit.actors import Actor
from orgs.models import Membership, Organization
from tenancy.rls import cross_org


class Command(BaseCommand):
    help = "Create an API key acting as a member of an organization; prints it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--user", required=True, help="email of the member the key acts as")
        parser.add_argument("--name", required=True)
        parser.add_argument("--expires", help="ISO 8601 date-time, or days such as 30d")
        parser.add_argument("--env", choices=["live", "test"], default="live")
        parser.add_argument("--scope", action="append", dest="scopes", help="repeatable")

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(slug=options["org"].lower()).first()
        if org is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        creator = (
            Membership.objects.for_org(org)
            .select_related("user")
            .filter(user__email__iexact=options["user"], status=Membership.Status.ACTIVE)
            .first()
        )
        if creator is None:
            raise CommandError(f"{options['user']} is not an active member of {org.slug}")
        try:
            key, raw = api_key_create(
                org=org,
                actor=Actor.system("manage.py createapikey"),
                creator=creator,
                name=options["name"],
                env=options["env"],
                scopes=options["scopes"],
                expires_at=_expiry(options["expires"]),
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        self.stderr.write(f"Created API key {key.name!r} ({key.prefix}…) for {creator.user.email}.")
        self.stderr.write("Store it now: it is shown only once.")
        self.stdout.write(raw)


def _expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    if value.endswith("d") and value[:-1].isdigit():
        return timezone.now() + timedelta(days=int(value[:-1]))
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError("--expires takes an ISO 8601 date-time or days such as 30d")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)

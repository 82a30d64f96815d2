"""``manage.py replay_dead_deliveries --org SLUG [--endpoint ID]``: queue an org's dead
webhook deliveries to be sent again now, with their attempts back. Each is audited as the
system (``webhook.delivery_retried``), exactly as the portal's "retry now"."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import Actor
from audit.webhooks.models import WebhookDelivery
from audit.webhooks.services import webhook_delivery_retry
from orgs.models import Organization
from tenancy.rls import cross_org


class Command(BaseCommand):
    help = "Send an organization's dead webhook deliveries again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--endpoint", type=int, help="only this endpoint's deliveries")

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(slug=options["org"].lower()).first()
        if org is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        dead = WebhookDelivery.objects.for_org(org).filter(status=WebhookDelivery.Status.DEAD)
        if options["endpoint"] is not None:
            dead = dead.filter(endpoint_id=options["endpoint"])
        actor = Actor.system("manage.py replay_dead_deliveries")
        replayed = 0
        for delivery in dead.order_by("pk"):
            webhook_delivery_retry(org=org, actor=actor, delivery=delivery)
            replayed += 1
        self.stdout.write(f"Queued {replayed} dead deliveries of {org.slug} to be sent again.")

"""``manage.py rotate_key_pepper``: a new pepper for API-key hashes, and how to deploy it.
Existing keys keep verifying under the pepper they were hashed with while it stays listed.
Prints the new pepper on stdout, once; audited as the system."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apikeys.services import api_key_pepper_generate
from audit.actors import Actor
from tenancy.rls import cross_org


class Command(BaseCommand):
    help = "Generate a new API-key pepper and print how to roll it out."

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, **options: Any) -> None:
        pepper_id, secret = api_key_pepper_generate(
            actor=Actor.system("manage.py rotate_key_pepper")
        )
        peppers = ",".join(
            [f"{pepper_id}:{secret}", *(f"{k}:{v}" for k, v in settings.API_KEY_PEPPERS.items())]
        )
        self.stdout.write(
            f"New API-key pepper {pepper_id}. Deploy every host with:\n"
            f"     API_KEY_PEPPERS={peppers}\n"
            f"     API_KEY_PEPPER_ID={pepper_id}\n"
            "New keys are hashed under it; existing keys keep verifying under theirs. Keep the old"
            " peppers listed for as long as a key hashed under them lives (roll or revoke those"
            " keys to retire a pepper).\n"
        )

"""``manage.py rotate_jwt_key``: a new access-token signing key, and the steps to deploy it
without signing anybody out. Prints the new key on stdout, once; audited as the system."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.services import jwt_key_generate
from audit.actors import Actor


class Command(BaseCommand):
    help = "Generate a new JWT signing key and print how to roll it out."

    def handle(self, *args: Any, **options: Any) -> None:
        kid, seed = jwt_key_generate(actor=Actor.system("manage.py rotate_jwt_key"))
        keys = ",".join(
            [f"{kid}:{seed}", *(f"{k}:{v}" for k, v in settings.JWT_SIGNING_KEYS.items())]
        )
        lifetime = int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
        self.stdout.write(
            f"New JWT signing key {kid}. Roll it out in three deploys:\n"
            f"1. Publish it (every host verifies it; /.well-known/jwks.json lists it):\n"
            f"     JWT_SIGNING_KEYS={keys}\n"
            f"     JWT_SIGNING_KEY_ID={settings.JWT_SIGNING_KEY_ID}\n"
            f"2. Once every host runs step 1 (and verifiers' 5-minute JWKS caches have passed),"
            f" sign with it:\n"
            f"     JWT_SIGNING_KEY_ID={kid}\n"
            f"3. {lifetime} s later (the access-token lifetime), drop the old keys from"
            f" JWT_SIGNING_KEYS.\n"
            "Nobody is signed out: refresh tokens are not JWTs, and every token verifies until"
            " its key is dropped.\n"
        )

"""``manage.py createorg SLUG --name NAME --owner-email EMAIL``.

The owner's password comes from ``TENANTRY_OWNER_PASSWORD``, else it is prompted for. An
existing user with that email becomes the owner as they are. All or nothing.
"""

import getpass
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from audit.actors import Actor
from orgs.services import org_create
from tenancy.rls import cross_org


class Command(BaseCommand):
    help = "Create an organization and its owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, slug: str, name: str, owner_email: str, **options: Any) -> None:
        actor = Actor.system("manage.py createorg")
        try:
            with transaction.atomic():
                owner = User.objects.filter(email__iexact=owner_email.strip()).first()
                if owner is None:
                    owner = user_create(
                        actor=actor, email=owner_email, password=self._password(), name=""
                    )
                org = org_create(actor=actor, slug=slug, name=name, owner=owner)
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created organization {org.slug!r} owned by {owner.email}")
        )

    def _password(self) -> str:
        password = os.environ.get("TENANTRY_OWNER_PASSWORD")
        if password:
            return password
        if not self.stdin_is_interactive():
            raise CommandError("Set TENANTRY_OWNER_PASSWORD (no terminal to prompt on)")
        first = getpass.getpass("Owner password: ")
        if first != getpass.getpass("Owner password (again): "):
            raise CommandError("Passwords do not match")
        return first

    @staticmethod
    def stdin_is_interactive() -> bool:
        import sys

        return sys.stdin.isatty()


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)

"""``manage.py seed_demo``: a demo org with one member of each role. Safe to run again."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from accounts.services import user_create, user_save_by_staff
from audit.actors import Actor
from orgs.models import Organization
from orgs.roles import Role
from orgs.services import membership_add, org_create
from tenancy.rls import cross_org

# Printed for the local demo on purpose; the demo runs on the embedded SQLite database only.
DEMO_PASSWORD = "tenantry-demo-password"
DEMO_SLUG = "acme"
STAFF_EMAIL = "staff@acme.test"


class Command(BaseCommand):
    help = "Create the demo organization 'acme' and its users (local development only)."

    @cross_org()  # an operator's command spans orgs: tenancy.rls's cross-org path
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            # The demo users' password is printed and published in the README.
            raise CommandError(
                "seed_demo runs only with DEBUG=true (the local run), never in production"
            )
        actor = Actor.system("manage.py seed_demo")
        with transaction.atomic():
            org = Organization.objects.filter(slug=DEMO_SLUG).first()
            if org is None:
                owner = self._user(actor, "owner@acme.test", "Olivia Owner")
                org = org_create(actor=actor, slug=DEMO_SLUG, name="Acme Corp", owner=owner)
                for role in (Role.ADMIN, Role.DEVELOPER, Role.MEMBER, Role.VIEWER):
                    user = self._user(actor, f"{role.value}@acme.test", role.value.title())
                    membership_add(org=org, actor=actor, user=user, role=role, by=None)
            if not User.objects.filter(email=STAFF_EMAIL).exists():
                # The Django admin's user: staff, in no org.
                staff = self._user(actor, STAFF_EMAIL, "Sam Staff")
                staff.is_staff = staff.is_superuser = True
                user_save_by_staff(
                    actor=actor, user=staff, created=False, changed=["is_staff", "is_superuser"]
                )
        self.stdout.write(
            "\nDemo organization 'acme' is ready. Sign in with any of\n"
            "  owner@acme.test, admin@acme.test, developer@acme.test, member@acme.test,"
            " viewer@acme.test\n"
            f"  password: {DEMO_PASSWORD}\n"
            f"  Django admin (http://127.0.0.1:8000/admin/): {STAFF_EMAIL}, same password\n"
            "  Mail (invitations, password resets) is printed on this console, not sent.\n\n"
            "  curl http://127.0.0.1:8000/api/health\n"
            "  curl -X POST http://127.0.0.1:8000/api/auth/login \\\n"
            "       -H 'Content-Type: application/json' \\\n"
            f'       -d \'{{"email":"admin@acme.test","password":"{DEMO_PASSWORD}",'
            f'"org_slug":"{DEMO_SLUG}"}}\'\n'
            "  API reference: http://127.0.0.1:8000/developers/api\n"
        )

    @staticmethod
    def _user(actor: Actor, email: str, name: str) -> User:
        existing = User.objects.filter(email=email).first()
        return existing or user_create(actor=actor, email=email, password=DEMO_PASSWORD, name=name)

"""``manage.py flush_expired``: delete dead API sign-ins and expired browser sessions. Run it
daily. Audited as the system (``auth.expired_flushed``, with the counts)."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import expired_sign_ins_flush
from audit.actors import Actor


class Command(BaseCommand):
    help = "Delete revoked or expired API sign-ins and expired browser sessions."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = expired_sign_ins_flush(actor=Actor.system("manage.py flush_expired"))
        self.stdout.write(
            f"Deleted {counts['sign_ins']} sign-ins ({counts['refresh_tokens']} refresh tokens)"
            f", {counts['browser_sessions']} browser sessions"
            f" and {counts['mfa_challenges']} second-factor challenges."
        )

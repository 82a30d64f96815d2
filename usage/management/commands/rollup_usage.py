from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from usage.services import usage_rollup


class Command(BaseCommand):
    help = (
        "Copy the Redis request counters (per API key and org per day) into PostgreSQL. "
        "Idempotent; run it hourly (more often than USAGE_REDIS_DAYS, when counters expire)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="How many UTC days back, today included (default: USAGE_REDIS_DAYS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] or settings.USAGE_REDIS_DAYS
        written = usage_rollup(days=days)
        self.stdout.write(f"rolled up {written} usage rows over {days} days")

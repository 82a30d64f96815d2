"""``manage.py deliver_events [--once] [--batch N] [--max-seconds S] [--sleep S]``.

Run as many as you like, on as many hosts as you like: they share the work through the
database (see ``audit.webhooks.delivery``). Stopping one at any moment loses nothing; what
it had claimed comes back when its lease runs out.
"""

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from audit.webhooks.delivery import Worker

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Fan lifecycle events out to webhook endpoints and deliver them, with retries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Process the work available now, then exit."
        )
        parser.add_argument("--batch", type=int, default=10, help="Rows per claim (default 10).")
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=0,
            help="Exit after about this many seconds (default: run until stopped).",
        )
        parser.add_argument(
            "--sleep", type=float, default=1.0, help="Seconds to wait when idle (default 1)."
        )

    def handle(
        self,
        *args: Any,
        once: bool,
        batch: int,
        max_seconds: float,
        sleep: float,
        **options: Any,
    ) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        worker = Worker(batch=batch)
        started = time.monotonic()
        total = 0
        while True:
            # As a request would: give a broken or stale connection back to the pool.
            close_old_connections()
            try:
                done = worker.run_once()
            except Exception:  # a worker outlives one bad round; its leases simply expire
                logger.exception("delivery round failed; retrying after %.1f s", sleep)
                done = 0
                if once:
                    raise
            total += done
            if once and not done:
                break
            if max_seconds and time.monotonic() - started >= max_seconds:
                break
            if not done:
                time.sleep(sleep)
        self.stdout.write(f"Processed {total} events and deliveries ({worker.worker_id})")

"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Every value can be overridden from the environment; see README "Production serving".
"""

import multiprocessing
import os
import shutil
import tempfile
from typing import Any

from config.access_log import FORMAT

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the request path is CPU-bound Python plus short database round trips.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, workers finish the requests they hold for this long before they are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Long-lived workers are recycled, with jitter so they do not restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
logger_class = "config.access_log.AccessLogger"
access_log_format = FORMAT
# X-Forwarded-* are believed from these addresses only (TRUSTED_PROXY_COUNT decides in Django).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus: every worker writes its figures to files in one directory, which /metrics sums.
# Set before the workers import prometheus_client; emptied at each start.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tenantry-metrics-")

# Imported here, once, in the master: child_exit runs inside a SIGCHLD handler, where a first
# import could be interrupted by the next worker's exit and find the module half-loaded.
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server: Any) -> None:
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker, as it leaves (a restart, SIGHUP, max_requests): its pending usage
    counts go to Redis (usage.counters; atexit does the same where gunicorn is not used)."""
    from usage import counters

    try:
        counters.flush()
    except Exception:  # logged: a worker's exit must not fail on Redis
        server.log.exception("usage counters: the exit flush failed")


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)

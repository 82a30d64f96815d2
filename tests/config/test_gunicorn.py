"""The production server as configured in config/gunicorn.conf.py: it serves, its access log
carries no query string, header or token, and SIGTERM shuts it down gracefully."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from config.access_log import redact_path
from tests.config.test_deploy import PRODUCTION
from tests.harness.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_server(tmp_path):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        **PRODUCTION,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    pytest.fail(log.read_text())
                time.sleep(0.2)
        yield base, process, log
        if process.poll() is None:
            process.kill()
            process.wait()


def _health_count(scraped):
    line = 'tenantry_http_requests_total{method="GET",route="/api/health",status="200"} '
    (value,) = [row[len(line) :] for row in scraped.splitlines() if row.startswith(line)]
    return float(value)


def test_gunicorn_serves_and_logs_no_query_string_header_or_token(gunicorn_server):
    base, process, log = gunicorn_server
    secret = "tnt_live_" + "a" * 72
    response = httpx.get(
        f"{base}/api/health?token=query-secret",
        headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "req-gunicorn-1"},
    )
    assert response.json() == {"status": "ok"}
    httpx.get(f"{base}/invitations/inv-secret-token/", headers={"Referer": "https://x/ref-secret"})

    before = _health_count(httpx.get(f"{base}/metrics").text)
    for _ in range(6):
        httpx.get(f"{base}/api/health")
    # Whichever of the two workers served each, /metrics sums what every worker counted.
    assert _health_count(httpx.get(f"{base}/metrics").text) == before + 6

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0  # graceful: workers finish, the master exits cleanly
    text = log.read_text()
    assert '"GET /api/health HTTP/1.1" 200' in text
    assert "request_id=req-gunicorn-1" in text
    assert '"GET /invitations/[redacted] HTTP/1.1"' in text
    for leaked in ("query-secret", secret, "inv-secret-token", "ref-secret"):
        assert leaked not in text


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/invitations/abc123/", "/invitations/[redacted]"),
        ("/reset/MQ/c4h-token/", "/reset/[redacted]"),
        ("/api/invitations/7", "/api/invitations/7"),
        ("/settings/api-keys/", "/settings/api-keys/"),
    ],
)
def test_paths_that_carry_a_token_are_redacted(path, logged):
    assert redact_path(path) == logged

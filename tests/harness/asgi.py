"""The project's ASGI application under uvicorn, in a child process, for tests that need a
real server: streaming responses (SSE) are only honest when a real ASGI server drives them.

The child uses this session's test database, so only rows a test has committed are visible
to it: such tests are marked ``django_db(transaction=True)``.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from django.db import connection

from tests.harness.postgres import APP_ROLE, free_port

ROOT = Path(__file__).resolve().parents[2]


def database_env() -> dict[str, str]:
    """Environment for a child process that must use this session's test database.

    On the harness's own server the child connects as the application role (owns nothing,
    NOBYPASSRLS), as a deployment's servers and workers do: the real request paths and
    workers these tests start run under row-level security (tenancy.rls).
    """
    params = connection.settings_dict
    where = f"{params['HOST']}:{params['PORT']}/{params['NAME']}"
    owner = f"postgres://{params['USER']}@{where}"
    if params["USER"] != "tenantry":  # a server the harness did not set up: one role
        return {**os.environ, "DATABASE_URL": owner}
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{APP_ROLE}@{where}",
        "DATABASE_OWNER_URL": owner,
    }


class ASGIServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Lives as long as the server; stop() closes (and so deletes) it.
        self._log = tempfile.NamedTemporaryFile(prefix="tenantry-uvicorn-", suffix=".log")  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> "ASGIServer":
        self._process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "config.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                # As README says to run it: REMOTE_ADDR is the TCP peer, and X-Forwarded-For
                # is believed only per TRUSTED_PROXY_COUNT (uvicorn's default trusts 127.0.0.1).
                "--no-proxy-headers",
                # Open streams must not hold a test run's teardown hostage.
                "--timeout-graceful-shutdown", "1",
            ],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uvicorn did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        self._log.close()

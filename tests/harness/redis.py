"""Starts a throwaway Redis for the test session, before Django reads its settings, so the
suite's rate limits and caches run on the shared store production uses.

Loaded with ``-p tests.harness.redis`` (pyproject). If ``REDIS_URL`` is already set, that
server is used instead. Listens on 127.0.0.1 only, persists nothing, stops with the session.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator

import pytest

from tests.harness.postgres import free_port


class TempRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("Redis is not installed: run `make test`, which installs it")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tenantry-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_until_ready()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_until_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


_server: TempRedis | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    global _server
    if not os.environ.get("REDIS_URL"):
        _server = TempRedis()
        os.environ["REDIS_URL"] = _server.url
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None

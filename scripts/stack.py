"""``make up``: the whole stack as local processes on 127.0.0.1, started and stopped together.

A throwaway PostgreSQL and Redis (the test harness's servers), migrated and seeded with
``make run``'s demo data; gunicorn serving the API and portal (``config/gunicorn.conf.py``);
uvicorn serving the event stream under ASGI; the webhook worker (``deliver_events``); and
the usage roll-up every ``ROLLUP_SECONDS``. Ctrl-C (or SIGTERM) stops every process and
deletes the databases: nothing persists between two ``make up``.

Development settings (``DEBUG=true``, as ``make run``) on the production stack: the demo
users' published password is only acceptable there.

The database roles are a deployment's (docs/deployment.md): ``migrate`` and ``seed_demo``
run as the owner (``DATABASE_OWNER_URL``); every server and worker connects as the
application role (``DATABASE_URL``: owns nothing, ``NOBYPASSRLS``), so row-level security
is in force on every request path the stack serves.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.postgres import TempPostgres, free_port  # noqa: E402
from tests.harness.redis import TempRedis  # noqa: E402


class Stack:
    def __init__(self, *, web_port: int, stream_port: int, rollup_seconds: float = 300) -> None:
        self.web_port = web_port
        self.stream_port = stream_port
        self.rollup_seconds = rollup_seconds
        self.processes: list[subprocess.Popen[bytes]] = []
        self.postgres: TempPostgres | None = None
        self.redis: TempRedis | None = None
        self._stopping = threading.Event()
        self.log = ROOT / "var" / "up.log"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def stream(self) -> str:
        return f"http://127.0.0.1:{self.stream_port}"

    def env(self) -> dict[str, str]:
        assert self.postgres is not None
        assert self.redis is not None
        return {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": self.postgres.app_url,
            "DATABASE_OWNER_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "GUNICORN_BIND": f"127.0.0.1:{self.web_port}",
            "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
            "PORTAL_URL": self.web,
        }

    def start(self) -> "Stack":
        self.log.parent.mkdir(exist_ok=True)
        self.postgres = TempPostgres().start()
        self.redis = TempRedis()
        env = self.env()
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run([*manage, "seed_demo"], env=env, cwd=ROOT, check=True)  # via cross_org
        out = self.log.open("ab")
        self._spawn([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py",
                     "config.wsgi"], out)  # fmt: skip
        # uvicorn believes no X-Forwarded-For: TRUSTED_PROXY_COUNT decides in Django.
        self._spawn([sys.executable, "-m", "uvicorn", "config.asgi:application",
                     "--host", "127.0.0.1", "--port", str(self.stream_port),
                     "--no-proxy-headers", "--timeout-graceful-shutdown", "5"], out)  # fmt: skip
        self._spawn([*manage, "deliver_events", "--sleep", "0.5"], out)
        threading.Thread(target=self._rollup_loop, daemon=True).start()
        self._wait_until_ready()
        return self

    def _spawn(self, command: list[str], out: IO[bytes]) -> None:
        self.processes.append(
            subprocess.Popen(command, env=self.env(), cwd=ROOT, stdout=out, stderr=out)
        )

    def _rollup_loop(self) -> None:
        while not self._stopping.wait(self.rollup_seconds):
            subprocess.run([sys.executable, "manage.py", "rollup_usage"], env=self.env(),
                           cwd=ROOT, check=False, capture_output=True)  # fmt: skip

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for url in (f"{self.web}/api/health/ready", f"{self.stream}/api/health"):
            while True:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    self.stop()
                    raise RuntimeError(f"the stack did not come up; see {self.log}")
                time.sleep(0.2)

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def main() -> None:
    stack = Stack(
        web_port=int(os.environ.get("WEB_PORT", "8000")),
        stream_port=int(os.environ.get("STREAM_PORT", "8001")),
        rollup_seconds=float(os.environ.get("ROLLUP_SECONDS", "300")),
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stack.start()
    print(
        f"\nTenantry is up (logs: {stack.log}):\n"
        f"  API and portal   {stack.web}   (gunicorn)\n"
        f"  event stream     {stack.stream}/api/events/stream   (uvicorn)\n"
        f"  metrics          {stack.web}/metrics\n"
        f"  PostgreSQL       {stack.postgres.app_url if stack.postgres else ''} (app role)\n"
        f"  Redis            {stack.redis.url if stack.redis else ''}\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while not stopped.wait(0.5):
            if any(p.poll() is not None for p in stack.processes):
                print(f"a process ended; stopping (see {stack.log})", file=sys.stderr)
                break
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()


__all__ = ["Stack", "free_port"]

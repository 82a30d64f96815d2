"""Starts a throwaway PostgreSQL for the test session, before Django reads its settings.

Loaded with ``-p tests.harness.postgres`` (pyproject). If ``DATABASE_URL`` already points at
PostgreSQL, that server is used instead. The server lives in a temp dir on a free port,
listens on 127.0.0.1 only, and is stopped and deleted when the session ends. As root it runs
as the ``postgres`` user, because PostgreSQL refuses to run as root.

The server has the roles of a deployment (docs/deployment.md): ``tenantry`` (the superuser
initdb makes) owns the tables and runs the migrations; ``tenantry_app`` (``APP_ROLE``) owns
nothing, has ``NOBYPASSRLS`` and is what the real servers of ``tests/ops`` (``make up``)
connect as; ``tenantry_crossorg`` (``CROSS_ORG_ROLE``, ``NOLOGIN``, ``BYPASSRLS``) is the
role ``tenancy.rls.cross_org`` switches to. Default privileges, set in ``template1`` before
any database is made from it, grant every table and sequence the owner creates to both.
"""

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest


def _bin_dir() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


APP_ROLE = "tenantry_app"
CROSS_ORG_ROLE = "tenantry_crossorg"

ROLES_SQL = f"""
CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE ROLE {CROSS_ORG_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
GRANT {CROSS_ORG_ROLE} TO {APP_ROLE};
"""
DEFAULT_PRIVILEGES_SQL = f"""
ALTER DEFAULT PRIVILEGES FOR ROLE tenantry
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}, {CROSS_ORG_ROLE};
ALTER DEFAULT PRIVILEGES FOR ROLE tenantry
    GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}, {CROSS_ORG_ROLE};
ALTER DEFAULT PRIVILEGES FOR ROLE tenantry
    GRANT EXECUTE ON FUNCTIONS TO {APP_ROLE}, {CROSS_ORG_ROLE};
"""


class TempPostgres:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tenantry-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """The owner's (superuser's) URL: migrations, fixtures."""
        return f"postgres://tenantry@127.0.0.1:{self.port}/tenantry"

    @property
    def app_url(self) -> str:
        """The application role's URL (NOBYPASSRLS, owns nothing)."""
        return f"postgres://{APP_ROLE}@127.0.0.1:{self.port}/tenantry"

    def _psql(self, database: str, sql: str) -> None:
        self._run(
            str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "tenantry",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql,
        )  # fmt: skip

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, cwd=self.root)

    def start(self) -> "TempPostgres":
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "tenantry",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=200",
                # Durability is worthless for a throwaway database; speed is not.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "start",
        )  # fmt: skip
        self._psql("postgres", ROLES_SQL)
        # Databases made later (this one, pytest-django's test database) copy template1's.
        self._psql("template1", DEFAULT_PRIVILEGES_SQL)
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "tenantry", "tenantry",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


_server: TempPostgres | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    # A wrapper runs before pytest-django's own hook, which reads the settings.
    global _server
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        _server = TempPostgres().start()
        os.environ["DATABASE_URL"] = _server.url
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None

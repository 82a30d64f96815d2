"""Every log line the whole suite produces is scanned for secrets; one found fails the run.

Loaded with ``-p tests.harness.log_secrets`` (pyproject). After Django has configured logging,
a handler on the root logger formats each record exactly as production does (request-id
filter + JSON formatter) and looks in it for anything shaped like a secret this platform
issues: API keys, JWTs, refresh and invitation tokens, webhook signing secrets, second-factor
tokens, recovery codes and app secrets, and the passwords the tests use. The suite creates
thousands of those, so a leak anywhere on a logged path shows up here.
"""

import logging
import re

import pytest

SECRET_SHAPES = {
    "api key": re.compile(r"\b[a-z][a-z0-9]{0,15}_(?:live|test)_[0-9a-f]{72}\b"),
    "jwt": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}"),
    "refresh token": re.compile(r"\brt_[\w-]{40,}"),
    "invitation token": re.compile(r"\binv_[\w-]{40,}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{24,}"),
    # The second factor: a half-finished sign-in's token, a recovery code, an app's secret
    # (as the otpauth:// URI carries it).
    "mfa token": re.compile(r"\bmfa_[\w-]{40,}"),
    "recovery code": re.compile(r"\b[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}\b"),
    "totp secret": re.compile(r"secret=[A-Z2-7]{16,}"),
    "password": re.compile(r"correct horse battery staple|tenantry-demo-password"),
}


def secrets_in(text: str) -> list[str]:
    return [kind for kind, shape in SECRET_SHAPES.items() if shape.search(text)]


class SecretScanner(logging.Handler):
    def __init__(self) -> None:
        from config.logging import JsonFormatter, RequestIdFilter

        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        for kind in secrets_in(line):
            self.leaks.append(f"{kind} in a {record.name} {record.levelname} line: {line[:300]}")


_scanner: SecretScanner | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _scanner
    _scanner = SecretScanner()
    logging.getLogger().addHandler(_scanner)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _scanner is None or not _scanner.leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", f"{len(_scanner.leaks)} secret(s) reached the logs", red=True)
        for leak in _scanner.leaks[:20]:
            reporter.write_line(leak)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

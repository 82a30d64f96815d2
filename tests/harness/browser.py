"""Debian's Chromium driven by Playwright for Python, for the browser tests (tests/browser/).

The PyPI ``playwright`` wheel ships its driver but no browser, and ``playwright install``
cannot download one here: we launch the system Chromium (``apt-get install chromium``, done by
``scripts/install-test-services.sh``) through ``executable_path``. Every ``*.tenantry.test``
name resolves to 127.0.0.1 inside that browser only (``--host-resolver-rules``), so
``portal.tenantry.test``, ``api.tenantry.test`` and ``acme.tenantry.test`` all reach the live
server without touching /etc/hosts.
"""

import os
from pathlib import Path

BASE_DOMAIN = "tenantry.test"

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP *.{BASE_DOMAIN} 127.0.0.1",
]


def chromium_path() -> str:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test`, which installs chromium")
    return str(CHROMIUM)

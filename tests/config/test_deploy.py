"""`manage.py check --deploy` under production settings prints only the accepted warning."""

import os
import subprocess
import sys

# Documented in README.md: HSTS preload is a deployer's decision (it binds the domain into
# browsers' lists), so it defaults to off and Django's W021 reminder is expected.
ACCEPTED = {"security.W021"}


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "k" * 64 + "production-like-secret-for-the-check",
        "ALLOWED_HOSTS": "api.tenantry.test,portal.tenantry.test",
        "BASE_DOMAIN": "tenantry.test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    reported = {
        line.split(")")[0].split("(")[-1]
        for line in output.splitlines()
        if line.startswith("?: (") or ": (" in line
    }
    assert reported <= ACCEPTED, output


def test_production_refuses_to_start_without_secret_key():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr

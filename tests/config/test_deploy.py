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
        "API_KEY_PEPPERS": "k1:" + "p" * 64,
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


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "s" * 64, "API_KEY_PEPPERS": "k1:" + "p" * 64}


def _check(env_overrides):
    env = {**os.environ, **PRODUCTION, **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )


def test_debug_is_off_unless_asked_for():
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env["SECRET_KEY"] = ""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_refuses_sqlite():
    result = _check({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"})
    assert result.returncode != 0
    assert "Production needs PostgreSQL" in result.stderr


def test_production_refuses_a_per_process_cache():
    result = _check({"REDIS_URL": ""})
    assert result.returncode != 0
    assert "Production needs Redis" in result.stderr


def test_forwarded_proto_is_trusted_only_behind_declared_proxies():
    code = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    base = {**os.environ, **PRODUCTION}
    direct = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env=base, check=False,
    )  # fmt: skip
    proxied = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        capture_output=True, text=True, env={**base, "TRUSTED_PROXY_COUNT": "1"}, check=False,
    )  # fmt: skip
    assert direct.stdout.strip().splitlines()[-1] == "None", direct.stderr
    assert proxied.stdout.strip().splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https')", (
        proxied.stderr
    )


def test_production_refuses_a_pepper_derived_from_the_secret_key():
    result = _check({"API_KEY_PEPPERS": ""})
    assert result.returncode != 0
    assert "Production needs API_KEY_PEPPERS" in result.stderr
